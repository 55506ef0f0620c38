// What `nemokeys keys` says when things go wrong, and that it works as a kubectl plugin. Real API
// server; ServiceAccounts without (enough) RBAC via the harness. "CRDs not installed" cannot be shown
// on a shared server (other tests need them): cli/keys/errors.test.ts covers that branch.
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { GROUP, KINDS, VERSION } from '../api/index.ts';
import { crdYaml } from '../api/crd.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster, saKubeConfig } from './support/cluster.ts';
import { classifyKubeError, explainFailure } from '../cli/keys/errors.ts';
import {
  CLI_ENTRY,
  NODE_BIN_DIR,
  cells,
  runKeys,
  runProcess,
  tempDir,
  writeKubeconfig,
} from '../cli/keys/testing-process.ts';

const suffix = randomBytes(3).toString('hex');
const NS = `cli-keys-err-${suffix}`;
const NS2 = `cli-keys-err-b-${suffix}`;
const RES = { group: GROUP, version: VERSION, plural: KINDS.apiKey.plural };
const noStackTrace = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m);

describe('keys --help', () => {
  it.each([[[]], [['list']], [['describe']], [['rotate']], [['revoke']], [['duplicate']]])(
    'keys %j --help works without any cluster',
    async (sub) => {
      const r = await runKeys([...sub, '--help'], '/nonexistent/kubeconfig');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: nemokeys keys/);
      expect(r.stdout).toContain('--kubeconfig');
    },
  );
});

describe.skipIf(!hasCluster())('nemokeys keys errors against the real API server', () => {
  const keys = (args: string[], kubeconfig = clusterKubeconfig()) => runKeys(args, kubeconfig);

  beforeAll(async () => {
    await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
    const admin = adminKubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    const custom = admin.makeApiClient(CustomObjectsApi);
    for (const name of [NS, NS2]) await core.createNamespace({ body: { metadata: { name } } });
    for (const [ns, name] of [
      [NS, 'beta'],
      [NS, 'alpha'],
      [NS2, 'gamma'],
    ] as const) {
      await custom.createNamespacedCustomObject({
        ...RES,
        namespace: ns,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'ApiKey', metadata: { name }, spec: { team: 't' } },
      });
    }
    // "reader" may read ApiKeys in NS but not change them; "nobody" has no RBAC at all.
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: NS,
      body: {
        metadata: { name: 'apikey-reader' },
        rules: [{ apiGroups: [GROUP], resources: [KINDS.apiKey.plural], verbs: ['get', 'list'] }],
      },
    });
    await saKubeConfig(NS, 'reader');
    await rbac.createNamespacedRoleBinding({
      namespace: NS,
      body: {
        metadata: { name: 'reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'apikey-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: NS }],
      },
    });
  });

  describe('unknown ApiKey', () => {
    it('lists the ApiKeys that do exist in the namespace', async () => {
      const r = await keys(['describe', 'nope', '-n', NS]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`ApiKey "nope" not found in namespace "${NS}". ApiKeys in "${NS}": alpha, beta.`);
      noStackTrace(r.stderr);
    });
    it('points at the namespace that has it', async () => {
      const r = await keys(['rotate', 'gamma', '-n', NS]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`It exists in namespace "${NS2}": add -n ${NS2}.`);
    });
    it('suggests -A when the namespace has none', async () => {
      const r = await keys(['revoke', 'alpha', '-n', 'default']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('There are no ApiKeys in "default"; see every namespace with "keys list -A".');
    });
  });

  describe('404s as the real API server sends them', () => {
    const failureOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => classifyKubeError(e),
      );
    it('an API group nobody installed classifies as "CRDs missing" (the branch the CLI explains)', async () => {
      const custom = adminKubeConfig().makeApiClient(CustomObjectsApi);
      const absent = { group: `absent-${suffix}.example.com`, version: 'v1', plural: 'apikeys', namespace: NS };
      expect(await failureOf(custom.listNamespacedCustomObject(absent))).toEqual({ kind: 'crd-missing' });
      expect(await failureOf(custom.getNamespacedCustomObject({ ...absent, name: 'x' }))).toEqual({
        kind: 'crd-missing',
      });
      expect(
        explainFailure(
          { kind: 'crd-missing' },
          { verb: 'list', namespace: NS },
          { source: 's', context: 'c', server: 'https://x' },
        ),
      ).toContain('the nemokeys CRDs are not installed');
    });
    it('a missing ApiKey of an installed CRD is "not found", not "CRDs missing"', async () => {
      const custom = adminKubeConfig().makeApiClient(CustomObjectsApi);
      expect(await failureOf(custom.getNamespacedCustomObject({ ...RES, namespace: NS, name: 'nope' }))).toEqual({
        kind: 'not-found',
        resource: 'apikeys',
        name: 'nope',
      });
    });
  });

  describe('namespace not found', () => {
    it.each([[['list']], [['describe', 'alpha']], [['duplicate', 'alpha', 'alpha-2']]])('%j', async (args) => {
      const r = await keys([...args, '-n', `missing-${suffix}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`namespace "missing-${suffix}" not found`);
      noStackTrace(r.stderr);
    });
  });

  describe('RBAC', () => {
    it('a ServiceAccount without RBAC is told which verb and resource it lacks', async () => {
      const kc = writeKubeconfig(`nobody-${suffix}`, await saKubeConfig(NS, 'nobody'));
      const list = await keys(['list', '-n', NS], kc);
      expect(list.code).toBe(1);
      expect(list.stderr).toContain(`forbidden: you may not list apikeys.keys.nemorouter.io in namespace "${NS}"`);
      expect(list.stderr).toContain(`granting verb "list" on resource "apikeys" in API group "${GROUP}"`);
      noStackTrace(list.stderr);
      const all = await keys(['list', '-A'], kc);
      expect(all.stderr).toContain('you may not list apikeys.keys.nemorouter.io in all namespaces (cluster-wide)');
      expect(all.stderr).toContain('ClusterRole');
      const get = await keys(['describe', 'alpha'], kc); // the context's namespace is NS
      expect(get.stderr).toContain(`you may not get apikeys.keys.nemorouter.io in namespace "${NS}"`);
    });

    it('a read-only ServiceAccount can list but is told it may not patch or create', async () => {
      const kc = writeKubeconfig(`reader-${suffix}`, await saKubeConfig(NS, 'reader'));
      const list = await keys(['list'], kc);
      expect(list.code).toBe(0);
      expect(
        list.stdout
          .trimEnd()
          .split('\n')
          .slice(1)
          .map((l) => cells(l)[0]),
      ).toEqual(['alpha', 'beta']);
      const rotate = await keys(['rotate', 'alpha'], kc);
      expect(rotate.code).toBe(1);
      expect(rotate.stderr).toContain(`you may not patch apikeys.keys.nemorouter.io in namespace "${NS}"`);
      expect(rotate.stderr).toContain('You need role "nemokeys-key-editor" to create, edit, rotate or revoke ApiKeys');
      const dup = await keys(['duplicate', 'alpha', 'alpha-copy'], kc);
      expect(dup.stderr).toContain(`you may not create apikeys.keys.nemorouter.io in namespace "${NS}"`);
    });
  });

  describe('connection and credentials', () => {
    const kubeconfigFor = (name: string, server: string, token: string) => {
      const cluster = adminKubeConfig().getCurrentCluster();
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server, caData: cluster?.caData, skipTLSVerify: false }],
        users: [{ name: 'u', token }],
        contexts: [{ name, cluster: 'c', user: 'u' }],
        currentContext: name,
      });
      return writeKubeconfig(name, kc);
    };

    it('no cluster reachable: names the server, context and kubeconfig used', async () => {
      const srv = createServer();
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      const server = `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;
      await new Promise((resolve) => srv.close(resolve)); // now nothing listens there
      const path = kubeconfigFor('gone', server, 'x');
      const r = await keys(['list'], path);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `cannot reach the Kubernetes API server at ${server} (context "gone" from KUBECONFIG ${path}): connect ECONNREFUSED`,
      );
      noStackTrace(r.stderr);
      const flag = await runKeys(['list', '--kubeconfig', path], '/nonexistent');
      expect(flag.stderr).toContain(`(context "gone" from --kubeconfig ${path})`);
    });

    it('rejected credentials: 401 with what to do', async () => {
      const server = adminKubeConfig().getCurrentCluster()?.server ?? '';
      const r = await keys(['list', '-n', NS], kubeconfigFor('stale', server, 'not-a-valid-token'));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('rejected the credentials (401 Unauthorized)');
    });

    it('an unknown --context lists the contexts there are', async () => {
      const r = await keys(['list', '--context', 'nope']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/context "nope" is not in KUBECONFIG .*Contexts there: /);
    });

    it('a bad --timeout is refused before anything is written', async () => {
      const r = await keys(['rotate', 'alpha', '-n', NS, '--wait', '--timeout', 'soon']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('--timeout soon: expected a duration');
    });
  });

  describe('kubectl plugin', () => {
    it("`kubectl nemokeys keys list` runs bin/nemokeys.js through kubectl's plugin lookup", async () => {
      const pluginDir = join(tempDir(), `plugins-${suffix}`);
      mkdirSync(pluginDir);
      symlinkSync(CLI_ENTRY, join(pluginDir, 'kubectl-nemokeys'));
      // Node 24 (node_modules/.bin) first: the shebang runs `env -S node …`.
      const env = {
        PATH: `${NODE_BIN_DIR}:${pluginDir}:${process.env.PATH ?? ''}`,
        HOME: process.env.HOME,
        KUBECONFIG: clusterKubeconfig(),
      };
      const r = await runProcess(clusterKubectl(), ['nemokeys', 'keys', 'list', '-n', NS], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [header, ...rows] = r.stdout.trimEnd().split('\n').map(cells);
      expect(header?.slice(0, 2)).toEqual(['NAME', 'TEAM']);
      expect(rows.map((row) => row[0])).toEqual(['alpha', 'beta']);
      const missing = await runProcess(clusterKubectl(), ['nemokeys', 'keys', 'describe', 'nope', '-n', NS], env);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`ApiKey "nope" not found in namespace "${NS}"`);
    });
  });
});
