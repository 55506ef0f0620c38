// A throwaway PKI for the test control plane, made with the openssl CLI (node:crypto cannot issue
// X.509 certificates). Everything is P-256: key generation is instant even on slow CI machines.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  /** Service-account token signing key (private) and its public half for verification. */
  saKey: string;
  saPub: string;
  /** Static bearer tokens (--token-auth-file): handy for curl; admin is in system:masters. */
  tokenFile: string;
  adminToken: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') {
      throw new Error('the test control plane needs the `openssl` CLI to create its certificates; install openssl');
    }
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

function genKey(path: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

export function issue(
  pki: { dir: string; caCert: string; caKey: string },
  name: string,
  subj: string,
  ext: string[],
): void {
  const key = join(pki.dir, `${name}.key`);
  const csr = join(pki.dir, `${name}.csr`);
  const extFile = join(pki.dir, `${name}.ext`);
  genKey(key);
  openssl(['req', '-new', '-key', key, '-subj', subj, '-out', csr]);
  writeFileSync(extFile, `${ext.join('\n')}\n`);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-days',
    '3650',
    '-sha256',
    '-extfile',
    extFile,
    '-out',
    join(pki.dir, `${name}.crt`),
  ]);
}

/** Creates CA, apiserver serving cert, admin client cert (O=system:masters) and the SA signing key. */
export function createPki(dir: string): Pki {
  const pkiDir = join(dir, 'pki');
  mkdirSync(pkiDir, { recursive: true });
  const caCert = join(pkiDir, 'ca.crt');
  const caKey = join(pkiDir, 'ca.key');
  genKey(caKey);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    '/CN=nemokeys-test-ca',
    '-days',
    '3650',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    caCert,
  ]);
  const ca = { dir: pkiDir, caCert, caKey };
  // SANs cover loopback plus the in-cluster names clients might verify against.
  const sans = [
    'IP:127.0.0.1',
    'IP:::1',
    'IP:10.0.0.1',
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ];
  issue(ca, 'serving', '/CN=kube-apiserver', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${sans.join(',')}`,
  ]);
  issue(ca, 'admin', '/O=system:masters/CN=nemokeys-admin', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  const saKey = join(pkiDir, 'sa.key');
  const saPub = join(pkiDir, 'sa.pub');
  genKey(saKey);
  openssl(['pkey', '-in', saKey, '-pubout', '-out', saPub]);
  const adminToken = randomBytes(24).toString('hex');
  const tokenFile = join(pkiDir, 'tokens.csv');
  writeFileSync(tokenFile, `${adminToken},nemokeys-admin,nemokeys-admin,"system:masters"\n`, { mode: 0o600 });
  return {
    ...ca,
    dir: pkiDir,
    servingCert: join(pkiDir, 'serving.crt'),
    servingKey: join(pkiDir, 'serving.key'),
    adminCert: join(pkiDir, 'admin.crt'),
    adminKey: join(pkiDir, 'admin.key'),
    saKey,
    saPub,
    tokenFile,
    adminToken,
  };
}

const b64 = (path: string) => readFileSync(path).toString('base64');

/** Self-contained admin kubeconfig (data embedded) so it keeps working if copied elsewhere. */
export function writeAdminKubeconfig(path: string, server: string, pki: Pki): void {
  writeClientKubeconfig(path, server, pki, { user: 'nemokeys-admin', cert: pki.adminCert, key: pki.adminKey });
}

/** Self-contained kubeconfig for one client-certificate identity of `pki`. */
export function writeClientKubeconfig(
  path: string,
  server: string,
  pki: Pick<Pki, 'caCert'>,
  client: { user: string; cert: string; key: string },
): void {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'nemokeys-test', cluster: { server, 'certificate-authority-data': b64(pki.caCert) } }],
    users: [
      {
        name: client.user,
        user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) },
      },
    ],
    contexts: [
      { name: 'nemokeys-test', context: { cluster: 'nemokeys-test', user: client.user, namespace: 'default' } },
    ],
    'current-context': 'nemokeys-test',
  };
  writeFileSync(path, stringify(doc), { mode: 0o600 });
}
