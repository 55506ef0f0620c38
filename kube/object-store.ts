// The informer's cache: namespace → name → object, and the diff logic that decides which change
// to announce. Pure (no I/O), so the announce rules are tested directly.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ChangeKind } from './cache-types.ts';

const nsOf = (obj: KubernetesObject) => obj.metadata?.namespace ?? '';
const nameOf = (obj: KubernetesObject) => obj.metadata?.name ?? '';
const rvOf = (obj: KubernetesObject) => obj.metadata?.resourceVersion;

export class ObjectStore<T extends KubernetesObject> {
  private byNamespace = new Map<string, Map<string, T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.byNamespace.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.byNamespace.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const objs of this.byNamespace.values()) all.push(...objs.values());
    return all;
  }

  /** Stores `obj`; returns the change to announce, or undefined when this version is already cached. */
  upsert(obj: T): ChangeKind | undefined {
    let objs = this.byNamespace.get(nsOf(obj));
    if (!objs) {
      objs = new Map();
      this.byNamespace.set(nsOf(obj), objs);
    }
    const old = objs.get(nameOf(obj));
    objs.set(nameOf(obj), obj);
    if (!old) {
      this.count++;
      return 'add';
    }
    return rvOf(old) !== undefined && rvOf(old) === rvOf(obj) ? undefined : 'update';
  }

  /** Removes the object with obj's namespace/name; returns the cached version (the last one we knew). */
  remove(obj: KubernetesObject): T | undefined {
    const objs = this.byNamespace.get(nsOf(obj));
    const old = objs?.get(nameOf(obj));
    if (!objs || !old) return undefined;
    objs.delete(nameOf(obj));
    if (objs.size === 0) this.byNamespace.delete(nsOf(obj));
    this.count--;
    return old;
  }

  /**
   * Replaces the whole cache with a fresh list. Returns the changes to announce, in a stable order:
   * adds and updates in list order, then deletes. With `touchAll`, unchanged objects are announced as
   * updates too (after a restart we cannot know which events we missed).
   */
  replace(items: T[], touchAll: boolean): Array<[T, ChangeKind]> {
    const previous = this.byNamespace;
    this.byNamespace = new Map();
    this.count = 0;
    const changes: Array<[T, ChangeKind]> = [];
    for (const obj of items) {
      const old = previous.get(nsOf(obj))?.get(nameOf(obj));
      this.upsert(obj);
      if (!old) changes.push([obj, 'add']);
      else if (touchAll || rvOf(old) === undefined || rvOf(old) !== rvOf(obj)) changes.push([obj, 'update']);
    }
    for (const [ns, objs] of previous) {
      for (const [name, obj] of objs) {
        if (!this.byNamespace.get(ns)?.has(name)) changes.push([obj, 'delete']);
      }
    }
    return changes;
  }
}
