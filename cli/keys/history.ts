// `keys history NAME`: the ApiKey's audit trail (docs/design.md §8), newest last — when the API server
// received each change, what it did, to which key id, who made it and from where.
import { CoreV1Api } from '@kubernetes/client-node';
import { isNotFound } from '../../kube/errors.ts';
import { parseEntries, type TrailEntry } from '../../operator/audit/trail.ts';
import { ENTRIES_KEY, trailName } from '../../operator/audit/trail-store.ts';
import { openClient } from './client.ts';
import { CliError } from './errors.ts';
import { processIo, type Io, type OutputFormat } from './io.ts';
import type { KubeFlags } from './kubeconfig.ts';
import { formatTable } from './table.ts';

export interface HistoryOptions extends KubeFlags {
  output?: OutputFormat;
}

/** Pure: the table. An entry without a source IP had no audit event behind it: the IP is unknown. */
export function renderHistory(entries: readonly TrailEntry[]): string {
  if (entries.length === 0) return 'No audit entries yet.\n';
  return formatTable(
    ['TIME', 'ACTION', 'KEY ID', 'ACTOR', 'SOURCE IP', 'DETAILS'],
    entries.map((e) => [
      e.time,
      e.action,
      e.keyId ?? '-',
      e.impersonatedBy ? `${e.actor} (as impersonated by ${e.impersonatedBy})` : e.actor,
      e.sourceIp ?? 'unknown',
      [
        e.predecessorKeyId ? `successor of ${e.predecessorKeyId}` : '',
        e.fields?.length ? `changed ${e.fields.join(',')}` : '',
        e.reason ?? '',
      ]
        .filter(Boolean)
        .join('; ') || '-',
    ]),
  );
}

export async function runHistory(name: string, opts: HistoryOptions, io: Io = processIo): Promise<void> {
  const client = openClient(opts);
  const namespace = client.target.namespace;
  await client.get(namespace, name); // a clear "not found" (with suggestions) for a wrong name
  const core = client.target.kc.makeApiClient(CoreV1Api);
  let data: Record<string, string> | undefined;
  try {
    data = (await core.readNamespacedConfigMap({ namespace, name: trailName('ApiKey', name) })).data;
  } catch (err) {
    if (!isNotFound(err))
      throw new CliError(`reading the audit trail of ${namespace}/${name} failed: ${(err as Error).message}`);
  }
  const { entries, error } = parseEntries(data?.[ENTRIES_KEY]);
  if (error) throw new CliError(`the audit trail of ${namespace}/${name} is unreadable: ${error}`);
  io.out(opts.output === 'json' ? `${JSON.stringify(entries, null, 2)}\n` : renderHistory(entries));
}
