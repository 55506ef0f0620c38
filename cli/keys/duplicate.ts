// `keys duplicate NAME NEW-NAME`: the product page's Duplicate action — a new ApiKey with the same
// scopes and settings, its own Secret, and (once the operator runs) its own key id.
import { openClient } from './client.ts';
import { CliError } from './errors.ts';
import { processIo, type Io } from './io.ts';
import type { KubeFlags } from './kubeconfig.ts';
import { workloadSecret } from './model.ts';
import { planDuplicate, secretOwnerConflict } from './plans.ts';

export interface DuplicateCliOptions extends KubeFlags {
  secretName?: string;
}

export async function runDuplicate(
  name: string,
  newName: string,
  opts: DuplicateCliOptions,
  io: Io = processIo,
): Promise<void> {
  const client = openClient(opts);
  const namespace = client.target.namespace;
  const original = await client.get(namespace, name);
  const copy = planDuplicate(original, { newName, secretName: opts.secretName });
  // Best effort: if we may not list, the operator reports the clash on the new ApiKey instead.
  const others = await client.list(namespace).catch(() => []);
  const clash = secretOwnerConflict(copy, others);
  if (clash) {
    throw new CliError(
      `ApiKey ${clash.metadata.name} already writes Secret ${workloadSecret(copy).name}; ` +
        'choose another with --secret-name.',
    );
  }
  await client.create(copy);
  const secret = workloadSecret(copy);
  io.out(
    `ApiKey ${namespace}/${newName} created with the scopes of ${name} (team ${copy.spec?.team ?? '<none>'}).\n` +
      `The operator issues its key into Secret ${secret.name} (data key ${secret.key}); roll it out, confirm it is used ` +
      `("keys list" LAST USED), then revoke the old one with "keys revoke ${name} -n ${namespace}".\n`,
  );
}
