// `keys revoke NAME [--key-id ID]`: revokes every key id (spec.revoked) or one (spec.revokedKeyIds).
import type { ApiKeyClient } from './client.ts';
import { openClient } from './client.ts';
import { CliError } from './errors.ts';
import { processIo, type Io } from './io.ts';
import type { KubeFlags } from './kubeconfig.ts';
import { knownKeyIds, workloadSecret, type ApiKeyObject } from './model.ts';
import { planRevokeKeyId, unknownKeyIdMessage } from './plans.ts';

export interface RevokeOptions extends KubeFlags {
  keyId?: string;
}

/** Retries of the read-modify-write when someone else (usually the operator) wrote in between. */
const MAX_CONFLICT_RETRIES = 5;

export async function runRevoke(name: string, opts: RevokeOptions, io: Io = processIo): Promise<void> {
  const client = openClient(opts);
  const namespace = client.target.namespace;
  if (opts.keyId === undefined) return revokeAll(client, namespace, name, io);
  return revokeKeyId(client, namespace, name, opts.keyId, io);
}

async function revokeAll(client: ApiKeyClient, namespace: string, name: string, io: Io): Promise<void> {
  const obj = await client.get(namespace, name);
  if (obj.spec?.revoked === true) {
    io.out(`ApiKey ${namespace}/${name} is already revoked.\n`);
    return;
  }
  // A merge patch of one boolean needs no resourceVersion guard: it does not overwrite anyone's list.
  await client.patch(namespace, name, { spec: { revoked: true } });
  const ids = knownKeyIds(obj);
  io.out(
    `ApiKey ${namespace}/${name} revoked (spec.revoked=true): every key id` +
      `${ids.length > 0 ? ` (${ids.join(', ')})` : ''} is rejected with 401 once the operator updates the gateway's records.\n` +
      `Workloads reading Secret ${workloadSecret(obj).name} need a new key: "keys duplicate ${name} NEW-NAME".\n`,
  );
}

async function revokeKeyId(client: ApiKeyClient, namespace: string, name: string, id: string, io: Io): Promise<void> {
  await updateRevokedKeyIds(client, namespace, name, id, (obj) => {
    const plan = planRevokeKeyId(obj, id);
    if (plan.kind === 'unknown') throw new CliError(unknownKeyIdMessage(obj, id, plan.known));
    if (plan.kind === 'already') {
      io.out(`Key id ${id} of ApiKey ${namespace}/${name} is already revoked.\n`);
      return undefined;
    }
    return {
      revokedKeyIds: plan.revokedKeyIds,
      done: () => {
        io.out(
          `Key id ${id} of ApiKey ${namespace}/${name} revoked (spec.revokedKeyIds): it is rejected with 401 ` +
            "once the operator updates the gateway's records.\n",
        );
        if (plan.isCurrent) {
          io.err(
            `Warning: ${id} is the current key in Secret ${workloadSecret(obj).name}; the operator issues a new key id ` +
              'into it; workloads holding the revoked one fail until they read the Secret again.\n',
          );
        }
      },
    };
  });
}

/**
 * Read-modify-write of spec.revokedKeyIds. It is a list: a merge patch replaces it whole, so it must be
 * based on the version we read (resourceVersion makes the server refuse it with 409 if that changed);
 * on a conflict, read again and re-decide. `decide` returns undefined when there is nothing to write.
 */
export async function updateRevokedKeyIds(
  client: ApiKeyClient,
  namespace: string,
  name: string,
  what: string,
  decide: (obj: ApiKeyObject) => { revokedKeyIds: string[]; done: () => void } | undefined,
): Promise<void> {
  for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
    const obj = await client.get(namespace, name);
    const change = decide(obj);
    if (!change) return;
    const body = {
      metadata: { resourceVersion: obj.metadata.resourceVersion },
      spec: { revokedKeyIds: change.revokedKeyIds },
    };
    if (await client.patchIfUnchanged(namespace, name, body)) return change.done();
  }
  throw new CliError(
    `ApiKey ${namespace}/${name} kept changing while we revoked ${what} ` +
      `(${MAX_CONFLICT_RETRIES + 1} conflicts in a row). Try again.`,
  );
}
