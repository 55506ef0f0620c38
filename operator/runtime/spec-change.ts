// "Did the spec change?" for informer handlers that must not react to status writes: usage reports
// and key counts move status all the time, and each reaction can be a pass over thousands of keys.
import type { KubernetesObject } from '@kubernetes/client-node';
import { objectKey, type ChangeKind } from './types.ts';

/**
 * Whether an object's spec may have changed since the handler last saw it: added, deleted, first seen
 * (after a restart) or a new metadata.generation. Status writes keep the generation (status subresource).
 */
export function specChangeDetector<T extends KubernetesObject>(): (obj: T, change: ChangeKind) => boolean {
  const seenGeneration = new Map<string, number | undefined>();
  return (obj, change) => {
    const key = objectKey(obj);
    const changed =
      change === 'delete' || !seenGeneration.has(key) || seenGeneration.get(key) !== obj.metadata?.generation;
    if (change === 'delete') seenGeneration.delete(key);
    else seenGeneration.set(key, obj.metadata?.generation);
    return changed;
  };
}
