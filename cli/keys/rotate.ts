// `keys rotate NAME`: asks the operator for a successor key by giving the rotate annotation a new
// value (the cert-manager "renew" pattern); with --wait, follows status.currentKeyId until it moves.
import { ANNOTATIONS, parseDurationMs } from '../../api/index.ts';
import type { ApiKeyClient } from './client.ts';
import { openClient } from './client.ts';
import { CliError } from './errors.ts';
import { processIo, type Io } from './io.ts';
import type { KubeFlags } from './kubeconfig.ts';
import { currentEntry } from './model.ts';
import { planRotate, rotateExplanation } from './plans.ts';

export interface RotateOptions extends KubeFlags {
  wait?: boolean;
  timeout?: string;
}

export const DEFAULT_WAIT_TIMEOUT = '2m';
const POLL_MS = 500;

export function parseTimeout(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new CliError(`--timeout ${text}: expected a duration such as 30s, 2m or 1h.`);
  return ms;
}

export async function runRotate(name: string, opts: RotateOptions, io: Io = processIo): Promise<void> {
  const timeoutMs = parseTimeout(opts.timeout ?? DEFAULT_WAIT_TIMEOUT); // fail on a bad flag before writing
  const client = openClient(opts);
  const namespace = client.target.namespace;
  const obj = await client.get(namespace, name);
  const plan = planRotate(obj, io.now());
  if (plan.kind === 'refuse') throw new CliError(plan.reason);
  await client.patch(namespace, name, { metadata: { annotations: { [ANNOTATIONS.rotate]: plan.value } } });
  io.out(rotateExplanation(obj, plan.value));
  if (opts.wait) await waitForSuccessor(client, namespace, name, plan.previousKeyId, timeoutMs, io);
}

async function waitForSuccessor(
  client: ApiKeyClient,
  namespace: string,
  name: string,
  previous: string | undefined,
  timeoutMs: number,
  io: Io,
): Promise<void> {
  const deadline = io.now().getTime() + timeoutMs;
  io.err(`Waiting up to ${Math.round(timeoutMs / 1000)}s for the operator to issue the successor…\n`);
  for (;;) {
    const obj = await client.get(namespace, name);
    const id = obj.status?.currentKeyId;
    if (id !== undefined && id !== previous) {
      const hint = currentEntry(obj)?.hint;
      io.out(
        `New current key id: ${id}${hint ? ` …${hint}` : ''}` +
          (previous ? ` (the previous key ${previous} stays valid until the hand-off).\n` : '.\n'),
      );
      return;
    }
    if (io.now().getTime() >= deadline) {
      throw new CliError(
        `timed out after ${Math.round(timeoutMs / 1000)}s: status.currentKeyId of ${namespace}/${name} ` +
          `is still ${previous ?? '<none>'}. Is the nemokeys operator running? The request stays in place and is ` +
          `acted on when it runs; check "keys describe ${name} -n ${namespace}".`,
      );
    }
    await io.sleep(POLL_MS);
  }
}
