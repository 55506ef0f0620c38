import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { LABELS } from '../../api/constants.ts';
import { decodeUsageReport, type KeyUsage, type UsageReport } from '../../api/usage.ts';
import { countedReports, type StoredReport } from '../../api/usage-archive.ts';
import type { ChangeKind, ObjectCache } from '../runtime/types.ts';

// Lookups the informer caches cannot answer in O(1): records of one ApiKey, and usage summed over
// gateway replicas. Both are derived from the caches; handlers feed them, reconcilers read them.

/** ApiKey `namespace/name` → names of its record Secrets (from the record labels). */
export class RecordIndex {
  readonly #byApiKey = new Map<string, Set<string>>();
  readonly #cache: ObjectCache<V1Secret>;
  readonly #namespace: string;
  constructor(cache: ObjectCache<V1Secret>, namespace: string) {
    this.#cache = cache;
    this.#namespace = namespace;
  }

  static ownerOf(record: V1Secret): string | undefined {
    const l = record.metadata?.labels ?? {};
    const ns = l[LABELS.apiKeyNamespace];
    const name = l[LABELS.apiKeyName];
    return ns && name ? `${ns}/${name}` : undefined;
  }

  update(record: V1Secret, change: ChangeKind): void {
    const owner = RecordIndex.ownerOf(record);
    const name = record.metadata?.name;
    if (!owner || !name) return;
    const set = this.#byApiKey.get(owner) ?? new Set<string>();
    if (change === 'delete') set.delete(name);
    else set.add(name);
    if (set.size === 0) this.#byApiKey.delete(owner);
    else this.#byApiKey.set(owner, set);
  }

  /** The cached record Secrets of `namespace/name` (re-checked against the cache, so never stale). */
  forApiKey(key: string): V1Secret[] {
    const out: V1Secret[] = [];
    for (const name of this.#byApiKey.get(key) ?? []) {
      const r = this.#cache.get(this.#namespace, name);
      if (r && RecordIndex.ownerOf(r) === key) out.push(r);
    }
    return out;
  }

  /** The ApiKey owning a key id (records are named after it), for usage → ApiKey mapping. */
  ownerOfKeyId(keyId: string): string | undefined {
    const r = this.#cache.get(this.#namespace, `nemokeys-key-${keyId}`);
    return r ? RecordIndex.ownerOf(r) : undefined;
  }
}

/** The report in a usage ConfigMap (api/usage.ts codec); undefined when it cannot be decoded. */
export function parseUsageReport(cm: V1ConfigMap): UsageReport | undefined {
  const r = decodeUsageReport(cm);
  return r.ok ? r.report : undefined;
}

/** Per-replica cumulative reports summed per key id; re-parses a ConfigMap only when it changed. */
export class UsageIndex {
  readonly #cache: ObjectCache<V1ConfigMap>;
  readonly #parsed = new Map<string, { rv: string | undefined; report: UsageReport | undefined }>();
  #signature = '';
  #totals: Map<string, KeyUsage> = new Map();
  /** Last report seen by `changedKeyIds`, per ConfigMap (for enqueueing only the affected ApiKeys). */
  readonly #seen = new Map<string, UsageReport | undefined>();

  constructor(cache: ObjectCache<V1ConfigMap>) {
    this.#cache = cache;
  }

  totals(): ReadonlyMap<string, KeyUsage> {
    const cms = this.#cache.list();
    const signature = cms
      .map((c) => `${c.metadata?.namespace}/${c.metadata?.name}@${c.metadata?.resourceVersion}`)
      .sort()
      .join(',');
    if (signature === this.#signature) return this.#totals;
    const totals = new Map<string, KeyUsage>();
    const live = new Set<string>();
    const stored: StoredReport[] = [];
    for (const cm of cms) {
      const id = `${cm.metadata?.namespace}/${cm.metadata?.name}`;
      live.add(id);
      let p = this.#parsed.get(id);
      if (!p || p.rv !== cm.metadata?.resourceVersion) {
        p = { rv: cm.metadata?.resourceVersion, report: parseUsageReport(cm) };
        this.#parsed.set(id, p);
      }
      if (p.report) stored.push({ name: cm.metadata?.name ?? '', resourceVersion: p.rv, report: p.report });
    }
    // versions the usage archive absorbed are counted there (api/usage-archive.ts)
    for (const { report } of countedReports(stored)) {
      for (const [keyId, u] of Object.entries(report.keys)) {
        const t = totals.get(keyId);
        totals.set(
          keyId,
          t
            ? {
                requests: t.requests + u.requests,
                credits: t.credits + u.credits,
                lastUsedAt: Date.parse(u.lastUsedAt) > Date.parse(t.lastUsedAt) ? u.lastUsedAt : t.lastUsedAt,
              }
            : { ...u },
        );
      }
    }
    for (const id of this.#parsed.keys()) if (!live.has(id)) this.#parsed.delete(id);
    this.#signature = signature;
    this.#totals = totals;
    return totals;
  }

  /** Key ids whose counters differ from the previous version of this ConfigMap. */
  changedKeyIds(cm: V1ConfigMap, change: ChangeKind): string[] {
    const id = `${cm.metadata?.namespace}/${cm.metadata?.name}`;
    const before = this.#seen.get(id)?.keys ?? {};
    const after = change === 'delete' ? undefined : parseUsageReport(cm);
    if (change === 'delete') this.#seen.delete(id);
    else this.#seen.set(id, after);
    const ids = new Set([...Object.keys(before), ...Object.keys(after?.keys ?? {})]);
    return [...ids].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after?.keys[k]));
  }
}
