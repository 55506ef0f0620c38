// The reminder email itself (docs/design.md §8): plain text, says which key, when, and what to do.
// Identifiers only — key id and names, never key material. The Message-ID is derived from key id and
// kind, so a mail re-sent after a crash between sending and marking is recognisable as the same mail.
import { describeRemaining } from '../keys/expiry.ts';
import type { MailKind } from './plan.ts';

export interface ReminderMessage {
  subject: string;
  text: string;
  messageId: string;
}

export function reminderMessage(m: {
  namespace: string;
  name: string;
  keyId: string;
  kind: MailKind;
  expiresAt: Date;
  now: Date;
}): ReminderMessage {
  const what = `ApiKey ${m.namespace}/${m.name} (key id ${m.keyId})`;
  const when = m.expiresAt.toISOString();
  const subject =
    m.kind === 'expired'
      ? `[nemokeys] ${what} has expired`
      : `[nemokeys] ${what} expires ${describeRemaining(m.expiresAt, m.now)} (${when})`;
  const state =
    m.kind === 'expired'
      ? `expired at ${when}: requests with it are refused (401).`
      : `expires at ${when}. After that, requests with it are refused (401).`;
  const text = [
    `${what} ${state}`,
    '',
    'To get a successor key (new key id, same scopes; the workload Secret switches to it):',
    `  nemokeys keys rotate ${m.name} -n ${m.namespace}`,
    'or set spec.rotation.automatic: true on the ApiKey. Details:',
    `  nemokeys keys describe ${m.name} -n ${m.namespace}`,
    '',
    'You get this because your address is in the contacts of this ApiKey or its Team.',
  ].join('\n');
  return { subject, text, messageId: `<${m.keyId}.${m.kind}.${m.name}.${m.namespace}@nemokeys>` };
}
