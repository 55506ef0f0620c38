// Expiry reminder emails (docs/design.md §8), a controller of its own so a slow or failing mail server
// never holds up key reconciles. Leader only. Per key id and kind: send, then persist the mark on the
// ApiKey (annotation, server-side apply under its own field manager); a failed send throws, so the
// work queue retries with per-key exponential backoff, counted in metrics and told in an Event.
import { Counter, type Registry } from 'prom-client';
import { API_VERSION, GROUP, KINDS } from '../../api/constants.ts';
import { applyObject } from '../../kube/apply.ts';
import { apiErrorMessage } from '../../kube/errors.ts';
import { eventName } from '../apikey/events.ts';
import type { ApiKeyObject, PlannedEvent, TeamObject } from '../apikey/types.ts';
import type { Logger } from '../runtime/log.ts';
import { splitKey, type CachedInformer, type Clock, type ReconcileResult, type Reconciler } from '../runtime/types.ts';
import type { Mailer } from './mailer.ts';
import { reminderMessage } from './message.ts';
import { dueMails, nextMailAt, parseMarks, recipients, withMark, type Marks } from './plan.ts';

export const MAILED_ANNOTATION = `${GROUP}/reminders-mailed`;
export const REMINDER_FIELD_MANAGER = 'nemokeys-reminders';

export interface ReminderDeps {
  apiKeys: CachedInformer<ApiKeyObject>;
  teams: CachedInformer<TeamObject>;
  mailer: Mailer;
  clock: Clock;
  log: Logger;
  registry: Registry;
  writeMarks(ak: ApiKeyObject, marks: Marks): Promise<void>;
  createEvent(ak: ApiKeyObject, ev: PlannedEvent, now: Date): Promise<unknown>;
}

export function kubeMarksWriter(kube: Parameters<typeof applyObject>[0]) {
  return async (ak: ApiKeyObject, marks: Marks): Promise<void> => {
    await applyObject(
      kube,
      {
        apiVersion: API_VERSION,
        kind: KINDS.apiKey.kind,
        metadata: {
          name: ak.metadata!.name!,
          namespace: ak.metadata!.namespace!,
          annotations: { [MAILED_ANNOTATION]: JSON.stringify(marks) },
        },
      },
      { fieldManager: REMINDER_FIELD_MANAGER },
    );
  };
}

interface Spec {
  contacts?: string[];
  team?: string;
}

export function createReminderReconciler(deps: ReminderDeps): Reconciler {
  const mails = new Counter({
    name: 'nemokeys_reminder_emails_total',
    help: 'Expiry reminder emails by kind (7d, 1d, expired) and result (sent, failed; failures are retried with backoff)',
    labelNames: ['kind', 'result'],
    registers: [deps.registry],
  });
  for (const kind of ['7d', '1d', 'expired']) for (const result of ['sent', 'failed']) mails.inc({ kind, result }, 0);
  // Marks written by this process, by ApiKey uid: the watch cache may not show our own write yet.
  const sentHere = new Map<string, Marks>();

  return {
    name: 'reminders',
    async reconcile(key): Promise<ReconcileResult> {
      const { namespace, name } = splitKey(key);
      const ak = deps.apiKeys.get(namespace, name);
      if (!ak || !namespace || ak.metadata?.deletionTimestamp) return {};
      const spec = (ak.spec ?? {}) as Spec;
      const team = spec.team ? deps.teams.get(namespace, spec.team) : undefined;
      const to = recipients(spec.contacts, (team?.spec as Spec | undefined)?.contacts);
      const keys = ak.status?.keys ?? [];
      const now = deps.clock.now();
      const next = nextMailAt(keys, now);
      const requeue = next ? { requeueAfterMs: next.getTime() - now.getTime() } : {};
      if (to.length === 0) return requeue;
      const uid = ak.metadata?.uid ?? key;
      const stored = parseMarks(ak.metadata?.annotations?.[MAILED_ANNOTATION]);
      let marks = mergeMarks(stored, sentHere.get(uid));
      // A mark whose write failed last time (the mail went out): persist it before anything else.
      if (JSON.stringify(marks) !== JSON.stringify(stored) && sentHere.has(uid)) await deps.writeMarks(ak, marks);
      for (const due of dueMails(keys, marks, now)) {
        const message = reminderMessage({ namespace, name, ...due, now });
        try {
          await deps.mailer.send(to, message);
        } catch (err) {
          mails.inc({ kind: due.kind, result: 'failed' });
          const error = apiErrorMessage(err);
          deps.log.warn(
            { apiKey: key, keyId: due.keyId, kind: due.kind, error },
            'reminder email failed; retrying with backoff',
          );
          await deps
            .createEvent(
              ak,
              {
                type: 'Warning',
                reason: 'ReminderEmailFailed',
                name: eventName(name, due.keyId, `mail-${due.kind}-failed`),
                message: `expiry reminder (${due.kind}) for key id ${due.keyId} could not be mailed, retrying: ${error}`,
              },
              now,
            )
            .catch(() => undefined);
          throw new Error(`reminder email ${due.kind} for ${key} key id ${due.keyId}: ${error}`);
        }
        mails.inc({ kind: due.kind, result: 'sent' });
        marks = withMark(
          marks,
          due.keyId,
          due.kind,
          keys.map((k) => k.id),
        );
        sentHere.set(uid, marks);
        await deps.writeMarks(ak, marks);
        await deps
          .createEvent(
            ak,
            {
              type: 'Normal',
              reason: 'ReminderEmailSent',
              name: eventName(name, due.keyId, `mail-${due.kind}`),
              message: `expiry reminder (${due.kind}) for key id ${due.keyId} mailed to ${to.length} contact(s)`,
            },
            now,
          )
          .catch(() => undefined);
      }
      return requeue;
    },
  };
}

function mergeMarks(a: Marks, b: Marks | undefined): Marks {
  if (!b) return a;
  const out: Marks = { ...a };
  for (const [id, kinds] of Object.entries(b)) out[id] = [...new Set([...(out[id] ?? []), ...kinds])];
  return out;
}
