// Live key lists for the page: one informer (list + watch, kube/informer.ts) per scope — a namespace
// or all namespaces — shared by every open page, each change pushed to subscribers as a KeyView.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, KINDS, VERSION } from '../api/constants.ts';
import type { CachedInformer } from '../kube/cache-types.ts';
import { kubeClientFor } from '../kube/from-kubeconfig.ts';
import { customObjectInformer } from '../kube/informers.ts';
import { byName, type ApiKeyObject } from '../cli/keys/model.ts';
import { keyView, type KeyView } from './view.ts';

export type FeedEvent =
  | { type: 'snapshot'; keys: KeyView[] }
  | { type: 'upsert'; key: KeyView }
  | { type: 'delete'; namespace: string; name: string };

type Listener = (event: FeedEvent) => void;

// Custom objects come back as plain JSON (timestamps are strings), which is what ApiKeyObject says.
const asKey = (o: KubernetesObject) => o as unknown as ApiKeyObject;

interface Scope {
  informer: CachedInformer<KubernetesObject>;
  listeners: Set<Listener>;
  synced: Promise<void>;
}

export class KeyFeeds {
  private readonly scopes = new Map<string, Scope>();
  private readonly opts: { kc: KubeConfig; log: Logger; idleAfterMs: number; now?: () => Date };

  constructor(opts: { kc: KubeConfig; log: Logger; idleAfterMs: number; now?: () => Date }) {
    this.opts = opts;
  }

  private view(obj: ApiKeyObject): KeyView {
    return keyView(obj, (this.opts.now ?? (() => new Date()))(), this.opts.idleAfterMs);
  }

  private scope(namespace: string | undefined): Scope {
    const id = namespace ?? '*';
    let s = this.scopes.get(id);
    if (s) return s;
    const informer = customObjectInformer<KubernetesObject>({
      kube: kubeClientFor(this.opts.kc),
      log: this.opts.log,
      group: GROUP,
      version: VERSION,
      plural: KINDS.apiKey.plural,
      namespace,
      // The page's "last used" and "revoke candidate" also move with time, not only with events.
      relistIntervalMs: 60_000,
    });
    const listeners = new Set<Listener>();
    informer.onChange((o, change) => {
      const obj = asKey(o);
      const event: FeedEvent =
        change === 'delete'
          ? { type: 'delete', namespace: obj.metadata.namespace ?? '', name: obj.metadata.name }
          : { type: 'upsert', key: this.view(obj) };
      for (const l of listeners) l(event);
    });
    s = { informer, listeners, synced: informer.start() };
    this.scopes.set(id, s);
    return s;
  }

  /** Sends the current list once the cache is synced, then every change; returns the unsubscribe. */
  async subscribe(namespace: string | undefined, listener: Listener): Promise<() => void> {
    const s = this.scope(namespace);
    await s.synced;
    listener({
      type: 'snapshot',
      keys: s.informer
        .list(namespace)
        .map(asKey)
        .sort(byName)
        .map((o) => this.view(o)),
    });
    s.listeners.add(listener);
    return () => s.listeners.delete(listener);
  }

  get(namespace: string, name: string): ApiKeyObject | undefined {
    const o =
      this.scopes.get(namespace)?.informer.get(namespace, name) ?? this.scopes.get('*')?.informer.get(namespace, name);
    return o && asKey(o);
  }

  stop(): void {
    for (const s of this.scopes.values()) s.informer.stop();
    this.scopes.clear();
  }
}
