// `keys handoff NAME [--force]`: the product page's last rotation step — once the new key is confirmed
// in use (its last-used time), revoke the old ones. Writes spec.revokedKeyIds, like `keys revoke --key-id`.
import { openClient } from './client.ts';
import { CliError } from './errors.ts';
import { processIo, type Io } from './io.ts';
import type { KubeFlags } from './kubeconfig.ts';
import { planHandoff } from './plans.ts';
import { updateRevokedKeyIds } from './revoke.ts';

export interface HandoffOptions extends KubeFlags {
  force?: boolean;
}

export async function runHandoff(name: string, opts: HandoffOptions, io: Io = processIo): Promise<void> {
  const client = openClient(opts);
  const namespace = client.target.namespace;
  await updateRevokedKeyIds(client, namespace, name, 'the predecessors', (obj) => {
    const plan = planHandoff(obj, opts.force === true);
    if (plan.kind === 'refuse') throw new CliError(plan.reason);
    return {
      revokedKeyIds: plan.revokedKeyIds,
      done: () =>
        io.out(
          `Hand-off of ApiKey ${namespace}/${name} done: predecessor key ids ${plan.predecessors.join(', ')} revoked ` +
            `(spec.revokedKeyIds; rejected with 401 once the operator updates the gateway's records). Successor ${plan.successor} ` +
            `stays valid (${plan.successorLastUsed ? `last used ${plan.successorLastUsed}` : 'never used: forced'}).\n`,
        ),
    };
  });
}
