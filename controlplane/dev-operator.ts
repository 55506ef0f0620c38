import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { issue, writeClientKubeconfig } from './certs.ts';

/**
 * The operator's own identity (system:masters, like the admin): the audit trail leaves out the
 * operator's user's requests (it records its own actions itself, docs/design.md §8), so an operator
 * running as the admin would drop every change the person at the keyboard makes from `keys history`.
 * Kept in the control plane's pki directory, which `controlplane down` removes.
 */
export function devOperatorKubeconfig(dir: string, server: string): string {
  const pki = { dir: join(dir, 'pki'), caCert: join(dir, 'pki', 'ca.crt'), caKey: join(dir, 'pki', 'ca.key') };
  const cert = join(pki.dir, 'dev-operator.crt');
  if (!existsSync(cert)) {
    issue(pki, 'dev-operator', '/O=system:masters/CN=nemokeys-operator', [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=clientAuth',
    ]);
  }
  const path = join(pki.dir, 'dev-operator.kubeconfig');
  writeClientKubeconfig(path, server, pki, { user: 'nemokeys-operator', cert, key: join(pki.dir, 'dev-operator.key') });
  return path;
}

/** Before anything starts (a busy port used to fail after the control plane was up, leaving it running). */
