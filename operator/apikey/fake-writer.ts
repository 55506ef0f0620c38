import type { KubernetesObject, V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type { ApiKeyStatus } from '../../api/apikey.ts';
import { FINALIZER } from '../../api/constants.ts';
import type { ObjectCache } from '../runtime/types.ts';
import { RecordIndex, UsageIndex } from './indexes.ts';
import { createApiKeyReconciler, type ApiKeyReconcilerDeps } from './reconciler.ts';
import type { ApiKeyObject, PlannedEvent, TeamObject } from './types.ts';
import type { ApiKeyWriter } from './writer.ts';

// An in-memory API server + informer caches for controller glue tests (docs/design.md §6 step 2). Every write
// is recorded in `actions`; with `lagging` the caches only see writes after `sync()`, like a real watch.

export interface FakeAction {
  verb: 'finalizer+' | 'finalizer-' | 'apply-record' | 'delete-record' | 'apply-secret' | 'status' | 'event';
  target: string;
}

class FakeStore<T extends KubernetesObject> implements ObjectCache<T> {
  server = new Map<string, T>();
  cache = new Map<string, T>();
  readonly world: FakeCluster;
  constructor(world: FakeCluster) {
    this.world = world;
  }
  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }
  list(namespace?: string): T[] {
    return [...this.cache.values()].filter((o) => namespace === undefined || o.metadata?.namespace === namespace);
  }
  put(obj: T): string {
    const rv = String(++this.world.rv);
    const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
    const copy = structuredClone({ ...obj, metadata: { ...obj.metadata, resourceVersion: rv } }) as T;
    this.server.set(key, copy);
    if (!this.world.lagging) this.cache.set(key, copy);
    return rv;
  }
  remove(namespace: string, name: string): void {
    this.server.delete(`${namespace}/${name}`);
    if (!this.world.lagging) this.cache.delete(`${namespace}/${name}`);
  }
  sync(): void {
    this.cache = new Map([...this.server].map(([k, v]) => [k, structuredClone(v)]));
  }
}

export class FakeCluster implements ApiKeyWriter {
  rv = 100;
  lagging = false;
  actions: FakeAction[] = [];
  events: (PlannedEvent & { involved: string })[] = [];
  readonly apiKeys = new FakeStore<ApiKeyObject>(this);
  readonly teams = new FakeStore<TeamObject>(this);
  readonly secrets = new FakeStore<V1Secret>(this);
  readonly records = new FakeStore<V1Secret>(this);

  sync(): void {
    for (const s of [this.apiKeys, this.teams, this.secrets, this.records]) s.sync();
  }

  async setFinalizer(apiKey: ApiKeyObject, present: boolean): Promise<string | undefined> {
    const key = `${apiKey.metadata?.namespace}/${apiKey.metadata?.name}`;
    const cur = this.apiKeys.server.get(key);
    if (!cur) throw Object.assign(new Error('not found'), { code: 404 });
    this.actions.push({ verb: present ? 'finalizer+' : 'finalizer-', target: key });
    const finalizers = (cur.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER);
    if (present) finalizers.push(FINALIZER);
    if (!present && cur.metadata?.deletionTimestamp && finalizers.length === 0) {
      this.apiKeys.remove(cur.metadata.namespace!, cur.metadata.name!);
      return undefined;
    }
    return this.apiKeys.put({ ...cur, metadata: { ...cur.metadata, finalizers } });
  }
  async applyRecord(record: V1Secret): Promise<string | undefined> {
    this.actions.push({ verb: 'apply-record', target: record.metadata!.name! });
    return this.records.put(record);
  }
  async deleteRecord(namespace: string, name: string): Promise<void> {
    this.actions.push({ verb: 'delete-record', target: name });
    this.records.remove(namespace, name);
  }
  async applySecret(secret: V1Secret): Promise<string | undefined> {
    this.actions.push({ verb: 'apply-secret', target: `${secret.metadata?.namespace}/${secret.metadata?.name}` });
    const cur = this.secrets.server.get(`${secret.metadata?.namespace}/${secret.metadata?.name}`);
    return this.secrets.put({ ...secret, data: { ...(cur?.data ?? {}), ...secret.data } });
  }
  async writeStatus(apiKey: ApiKeyObject, status: ApiKeyStatus): Promise<string | undefined> {
    const key = `${apiKey.metadata?.namespace}/${apiKey.metadata?.name}`;
    const cur = this.apiKeys.server.get(key);
    if (!cur) throw Object.assign(new Error('not found'), { code: 404 });
    this.actions.push({ verb: 'status', target: key });
    return this.apiKeys.put({ ...cur, status });
  }
  async createEvent(apiKey: ApiKeyObject, event: PlannedEvent): Promise<boolean> {
    if (this.events.some((e) => e.name === event.name)) return false;
    this.actions.push({ verb: 'event', target: event.reason });
    this.events.push({ ...event, involved: `${apiKey.metadata?.namespace}/${apiKey.metadata?.name}` });
    return true;
  }
}

/** The ApiKey reconciler wired to a FakeCluster's caches and writer, as the operator wires it to the real ones
 * (by default no usage reports; the record index refreshed from the fake's records on every lookup). */
export function reconcilerOverFake(
  cluster: FakeCluster,
  deps: Pick<ApiKeyReconcilerDeps, 'clock' | 'audit' | 'generateKey' | 'monotonicNow'> &
    Partial<Pick<ApiKeyReconcilerDeps, 'writer' | 'usage'>>,
): ReturnType<typeof createApiKeyReconciler> {
  const recordIndex = new RecordIndex(cluster.records, 'nemokeys-system');
  const noUsage = { list: (): V1ConfigMap[] => [], get: () => undefined };
  return createApiKeyReconciler({
    apiKeys: cluster.apiKeys,
    teams: cluster.teams,
    secrets: cluster.secrets,
    records: cluster.records,
    recordIndex: {
      forApiKey: (k) => {
        for (const r of cluster.records.list()) recordIndex.update(r, 'add');
        return recordIndex.forApiKey(k);
      },
    },
    usage: new UsageIndex(noUsage),
    writer: cluster,
    recordsNamespace: 'nemokeys-system',
    ...deps,
  });
}
