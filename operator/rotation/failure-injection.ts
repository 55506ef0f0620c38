import type { V1Secret } from '@kubernetes/client-node';
import { LABELS } from '../../api/constants.ts';
import type { ApiKeyObject } from '../apikey/types.ts';
import type { ApiKeyWriter } from '../apikey/writer.ts';
import type { TargetRef, WorkloadClient } from './workloads.ts';

// Crash simulation for tests: wraps the operator's writers so that, for one ApiKey, the process "dies"
// right after its k-th write. The k-th write reaches the API server, then SimulatedCrash is thrown and
// every later write for that ApiKey is refused without reaching it (a dead process writes nothing).
// Scoping the crash to one ApiKey lets one operator run many crash points at once: an ApiKey's only
// in-process state (read-your-writes expectations) is dropped by the restart that follows anyway.
// The injector also records every write per ApiKey, so a test can show what step k was.

export class SimulatedCrash extends Error {
  constructor(apiKey: string, step: number) {
    super(`simulated crash of the operator after write ${step} for ${apiKey}`);
    this.name = 'SimulatedCrash';
  }
}

export type WriteKind = 'finalizer' | 'record' | 'delete-record' | 'secret' | 'status' | 'event' | 'restart';
export interface WriteStep {
  kind: WriteKind;
  /** What was written (object name, Event reason), never data. */
  detail: string;
}

interface Arm {
  after: number;
  done: number;
}

const apiKeyOf = (ak: ApiKeyObject): string => `${ak.metadata?.namespace}/${ak.metadata?.name}`;
const ownerOfRecord = (r: V1Secret): string | undefined => {
  const l = r.metadata?.labels ?? {};
  return l[LABELS.apiKeyNamespace] && l[LABELS.apiKeyName]
    ? `${l[LABELS.apiKeyNamespace]}/${l[LABELS.apiKeyName]}`
    : undefined;
};

export class CrashInjector {
  readonly #arms = new Map<string, Arm>();
  readonly #dead = new Set<string>();
  readonly #writes = new Map<string, WriteStep[]>();
  /** record Secret name → owning ApiKey, learnt from applyRecord (deleteRecord only carries the name). */
  readonly #recordOwners = new Map<string, string>();

  /** From now on, `apiKey` dies right after its `after`-th write (0: before the next one). */
  arm(apiKey: string, after: number): void {
    this.#arms.set(apiKey, { after, done: 0 });
    this.#writes.set(apiKey, []);
    if (after === 0) this.#dead.add(apiKey);
  }

  crashed(apiKey: string): boolean {
    return this.#dead.has(apiKey);
  }

  /** Writes for `apiKey` since it was armed (or since the start, when never armed). */
  writes(apiKey: string): readonly WriteStep[] {
    return this.#writes.get(apiKey) ?? [];
  }

  async #step<T>(apiKey: string | undefined, step: WriteStep, write: () => Promise<T>): Promise<T> {
    if (apiKey === undefined) return write();
    if (this.#dead.has(apiKey)) throw new SimulatedCrash(apiKey, this.#arms.get(apiKey)?.after ?? 0);
    const arm = this.#arms.get(apiKey);
    // Claim the slot before awaiting: a concurrent write (the restart-target controller runs beside the
    // ApiKey one) must not slip past the crash point while write k is still in flight.
    const last = arm !== undefined && ++arm.done >= arm.after;
    if (last) this.#dead.add(apiKey);
    const result = await write();
    const log = this.#writes.get(apiKey) ?? [];
    log.push(step);
    this.#writes.set(apiKey, log);
    if (last) throw new SimulatedCrash(apiKey, arm.after);
    return result;
  }

  wrapWriter(inner: ApiKeyWriter): ApiKeyWriter {
    return {
      setFinalizer: (ak, present) =>
        this.#step(apiKeyOf(ak), { kind: 'finalizer', detail: present ? 'add' : 'remove' }, () =>
          inner.setFinalizer(ak, present),
        ),
      applyRecord: (record) => {
        const owner = ownerOfRecord(record);
        if (owner) this.#recordOwners.set(record.metadata?.name ?? '', owner);
        return this.#step(owner, { kind: 'record', detail: record.metadata?.name ?? '' }, () =>
          inner.applyRecord(record),
        );
      },
      deleteRecord: (namespace, name) =>
        this.#step(this.#recordOwners.get(name), { kind: 'delete-record', detail: name }, () =>
          inner.deleteRecord(namespace, name),
        ),
      applySecret: (secret) =>
        this.#step(
          `${secret.metadata?.namespace}/${secret.metadata?.labels?.[LABELS.apiKeyName]}`,
          { kind: 'secret', detail: secret.metadata?.name ?? '' },
          () => inner.applySecret(secret),
        ),
      writeStatus: (ak, status) =>
        this.#step(apiKeyOf(ak), { kind: 'status', detail: status.currentKeyId ?? '' }, () =>
          inner.writeStatus(ak, status),
        ),
      createEvent: (ak, event, now) =>
        this.#step(apiKeyOf(ak), { kind: 'event', detail: event.reason }, () => inner.createEvent(ak, event, now)),
    };
  }

  /** `ownerOf` attributes a restart target to the ApiKey whose crash it belongs to. */
  wrapWorkloads(inner: WorkloadClient, ownerOf: (ref: TargetRef) => string | undefined): WorkloadClient {
    return {
      read: (ref) => inner.read(ref),
      setAnnotation: (ref, value) =>
        this.#step(ownerOf(ref), { kind: 'restart', detail: `${ref.kind}/${ref.name}` }, () =>
          inner.setAnnotation(ref, value),
        ),
    };
  }
}
