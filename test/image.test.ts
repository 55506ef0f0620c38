// The container image, built from the repo's Dockerfile with podman (image/build.ts), and the chart's own pods
// run from it: the operator Deployment's pod spec and the gateway sidecar the install notes print, turned into
// `podman run` flags by image/pod.ts (never hand-copied), on the host network against the real API server of
// the test harness, with a ServiceAccount token from its TokenRequest API mounted where a kubelet puts it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Container,
  type V1PodSpec,
} from '@kubernetes/client-node';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, GROUP, KINDS, VERSION } from '../api/constants.ts';
import { freePort, waitFor } from '../controlplane/process.ts';
import { installCrds } from '../controlplane/controlplane.ts';
import { crdYaml } from '../api/crd.ts';
import { buildImage, hasPodman, REPO, run, type BuiltImage } from '../image/build.ts';
import { podmanRunArgs, probeUrl, type PodRunContext } from '../image/pod.ts';
import { adminKubeConfig, clusterKubeconfig, clusterKubectl, hasCluster } from './support/cluster.ts';
import { chartNotes, ensureHelm, helmTemplateText, reportMissingTool, sidecarFromNotes } from './support/helm.ts';
import { createTeam, eventually } from './support/operator.ts';

const helm = await ensureHelm();
const podman =
  (await hasPodman()) ||
  reportMissingTool(
    'podman',
    'the image tests build and run the image with it',
    'Run .ci/run, or apt-get install podman buildah runc debootstrap.',
  );
const uniq = Math.random().toString(36).slice(2, 8);
// Per run, so a parallel run elsewhere never swaps the image under these pods; untagged at the end.
const IMAGE_TAG = `localhost/nemokeys:test-${uniq}`;

// The local base (image/make-base.sh) points Node at this machine's CA bundle for `npm ci` behind a TLS proxy.
// A registry base has no such variable, so every container here runs without it: nothing may depend on it.
const WITHOUT_LOCAL_BASE_EXTRAS = ['--unsetenv=NODE_EXTRA_CA_CERTS'];
/** Tests and their scaffolding beside the code: fake writers, failure injection, test-only helpers. */
const SCAFFOLDING = /\.test\.ts$|(^|\/)(testing|testing-[^/]*|fake-[^/]*|failure-injection[^/]*)\.ts$/;
/** What insideView shows for the chart's hardened containers, whatever the pod. */
const HARDENED = {
  uid: 1000,
  gid: 1000,
  rootWrite: 'EROFS',
  hasToken: true,
  kubeconfigEnv: null,
  homeKubeconfig: false,
  noNewPrivs: '1',
  capEff: '0000000000000000',
};

/** A throwaway container as uid 1000 on a read-only root and no network, like the smallest hardened pod. */
function runInImage(image: string, args: string[], entrypoint?: string[]) {
  return run(
    'podman',
    [
      'run',
      '--rm',
      ...WITHOUT_LOCAL_BASE_EXTRAS,
      '--network=none',
      '--read-only',
      '--read-only-tmpfs=false',
      '--user=1000:1000',
      ...(entrypoint ? [`--entrypoint=${JSON.stringify(entrypoint)}`] : []),
      image,
      ...args,
    ],
    { timeoutMs: 120_000 },
  );
}

/**
 * What goes wrong when the image starts its three entry points: `--help`, `operator` and `gateway`. Without
 * cluster credentials both commands stop at loading them, which happens after their runtime modules loaded,
 * so a missing source folder or package shows up here as a module error instead.
 */
async function startProblems(image: string): Promise<string[]> {
  const problems: string[] = [];
  const help = await runInImage(image, ['--help']);
  if (help.code !== 0 || !/\boperator\b/.test(help.stdout) || !/\bgateway\b/.test(help.stdout)) {
    problems.push(`--help: exit ${help.code}: ${help.stderr.slice(-600)}`);
  }
  for (const args of [['operator'], ['gateway', '--upstream=http://127.0.0.1:9', '--records-namespace=x']]) {
    const res = await runInImage(image, args);
    if (!res.stderr.includes('no Kubernetes configuration found')) {
      problems.push(`${args[0]}: exit ${res.code}: ${res.stderr.slice(-600)}`);
    }
  }
  return problems;
}

/** A running container (`podman run` in the foreground) with its output kept for failure messages. */
interface Container {
  name: string;
  child: ChildProcess;
  output(): string;
}

const started: Container[] = [];

function startContainer(args: string[]): Container {
  const name = /^--name=(.*)$/.exec(args.find((a) => a.startsWith('--name='))!)![1]!;
  const child = spawn('podman', ['run', '--rm', ...WITHOUT_LOCAL_BASE_EXTRAS, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
  const c = { name, child, output: () => out };
  started.push(c);
  return c;
}

async function stopContainer(c: Container): Promise<number | null> {
  if (c.child.exitCode !== null) return c.child.exitCode;
  const exited = new Promise<number | null>((r) => c.child.once('exit', (code) => r(code)));
  await run('podman', ['stop', c.name]); // waits the container's stop timeout (the pod's grace period), then SIGKILL
  return exited;
}

/** Polls an httpGet probe the way the kubelet does, until it answers 200; fails early if the container died. */
async function waitProbe(c: Container, container: V1Container, probe: V1Container['readinessProbe']): Promise<void> {
  const p = probeUrl(container, probe);
  await waitFor(`${c.name} ${p.url}`, async () => (await fetch(p.url).catch(() => undefined))?.status === 200, {
    timeoutMs: 60_000,
    died: () => (c.child.exitCode !== null ? `exit ${c.child.exitCode}:\n${c.output()}` : undefined),
  }).catch((e: Error) => {
    throw new Error(`${e.message}\n--- ${c.name} output:\n${c.output()}`);
  });
}

/** How a running container really runs, seen from inside it: user, writable paths, credentials, privileges. */
async function insideView(c: Container): Promise<Record<string, unknown>> {
  const res = await run('podman', [
    'exec',
    c.name,
    'node',
    '-e',
    `
    const fs = require('node:fs');
    const write = (p) => { try { fs.writeFileSync(p, 'x'); fs.rmSync(p); return 'ok'; } catch (e) { return e.code; } };
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const field = (name) => new RegExp('^' + name + ':\\\\s*(\\\\S+)', 'm').exec(status)?.[1];
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount/';
    console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(),
      rootWrite: write('/app/probe'), tmpWrite: write('/tmp/probe'),
      namespace: fs.readFileSync(sa + 'namespace', 'utf8'), hasToken: fs.readFileSync(sa + 'token', 'utf8').length > 0,
      kubeconfigEnv: process.env.KUBECONFIG ?? null,
      homeKubeconfig: fs.existsSync(require('node:os').homedir() + '/.kube/config'),
      noNewPrivs: field('NoNewPrivs'), capEff: field('CapEff') }));`,
  ]);
  if (res.code !== 0) throw new Error(`podman exec ${c.name}: ${res.stderr}`);
  return JSON.parse(res.stdout) as Record<string, unknown>;
}

/**
 * What the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount: a token for the pod's
 * ServiceAccount from the TokenRequest API (kubelet default lifetime), the cluster CA and the namespace.
 */
async function serviceAccountVolume(admin: KubeConfig, namespace: string, serviceAccount: string): Promise<string> {
  const tr = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3607 } },
  });
  const cluster = admin.getCurrentCluster()!;
  const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64') : await readFile(cluster.caFile!);
  const dir = await mkdtemp(join(tmpdir(), 'nemokeys-sa-'));
  await chmod(dir, 0o755); // mkdtemp makes it 0700 for root; the kubelet's volume is readable by the pod's user
  await writeFile(join(dir, 'token'), tr.status!.token!, { mode: 0o644 });
  await writeFile(join(dir, 'ca.crt'), ca, { mode: 0o644 });
  await writeFile(join(dir, 'namespace'), namespace, { mode: 0o644 });
  return dir;
}

function kubectl(args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      clusterKubectl(),
      ['--kubeconfig', clusterKubeconfig(), ...args],
      { maxBuffer: 32 << 20 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

/** The API server as a pod on the host network reaches it (the harness listens on loopback). */
function apiServerOf(admin: KubeConfig): { host: string; port: number } {
  const url = new URL(admin.getCurrentCluster()!.server);
  return { host: url.hostname, port: Number(url.port || 443) };
}

describe.skipIf(!podman)('the container image, built from the Dockerfile', () => {
  let image: BuiltImage;
  const tempDirs: string[] = [];
  const mutants: string[] = [];

  beforeAll(async () => {
    image = await buildImage({ tag: IMAGE_TAG, log: (l) => console.log(`[image] ${l}`) });
    console.log(
      `[image] built ${image.id.slice(0, 12)} from the Dockerfile in ${image.seconds.toFixed(1)} s, ` +
        `${(image.sizeBytes / 1e6).toFixed(0)} MB, base: ${image.base}`,
    );
  }, 900_000);

  afterAll(async () => {
    for (const c of started) await run('podman', ['rm', '--force', '--time=0', c.name]);
    for (const id of mutants) await run('podman', ['rmi', '--force', id]);
    if (image) await run('podman', ['untag', image.id, IMAGE_TAG]);
    for (const d of tempDirs) await rm(d, { recursive: true, force: true });
  });

  it("is built from the repo's Dockerfile: Node 24, runs as uid 1000", async () => {
    expect(image.sizeBytes).toBeGreaterThan(50e6);
    const inspect = JSON.parse((await run('podman', ['image', 'inspect', image.id])).stdout)[0];
    expect(inspect.Config.User).toBe('1000:1000');
    expect(inspect.Config.Entrypoint).toEqual(['node', '--disable-warning=ExperimentalWarning', 'bin/nemokeys.js']);
    const node = await runInImage(image.id, ['--version'], ['node']);
    expect(node.stdout.trim()).toMatch(/^v24\./);
    const id = await runInImage(image.id, ['-u'], ['id']);
    expect(id.stdout.trim()).toBe('1000');
  });

  it('holds production code and dependencies only: no tests, test scaffolding or dev dependencies', async () => {
    const list = await runInImage(
      image.id,
      [
        '-e',
        `
      const { readdirSync } = require('node:fs');
      const files = readdirSync('/app', { recursive: true }).filter((f) => !f.startsWith('node_modules/'));
      console.log(JSON.stringify({ files, modules: readdirSync('/app/node_modules') }));`,
      ],
      ['node'],
    );
    expect(list.code, list.stderr).toBe(0);
    const { files, modules } = JSON.parse(list.stdout) as { files: string[]; modules: string[] };
    const top = new Set(files.map((f) => f.split('/')[0]));
    expect([...top].sort()).toEqual([
      '.compile-cache',
      'api',
      'bin',
      'cli',
      'gateway',
      'kube',
      'node_modules',
      'operator',
      'package.json',
    ]);
    expect(files.filter((f) => SCAFFOLDING.test(f))).toEqual([]);
    for (const dev of ['vitest', 'typescript', 'fast-check', 'openai', 'node']) expect(modules, dev).not.toContain(dev);
    expect(modules).toContain('@kubernetes');
    // The repo's shipped folders do hold such files (so the check above is not vacuous): .dockerignore keeps them out.
    const inRepo = (await readdir(REPO, { recursive: true })).filter((f) => !/^(node_modules|\.git|test)\//.test(f));
    expect(inRepo.filter((f) => SCAFFOLDING.test(f) && top.has(f.split('/')[0])).length).toBeGreaterThan(5);
  });

  it('every production module loads with the production dependencies', async () => {
    const res = await runInImage(
      image.id,
      [
        '-e',
        `
      const { readdirSync } = require('node:fs');
      const mods = readdirSync('/app', { recursive: true })
        .filter((f) => f.endsWith('.ts') && !f.startsWith('node_modules/') && !f.startsWith('bin/'));
      (async () => { for (const m of mods) await import('/app/' + m); console.log('loaded', mods.length); })()
        .catch((e) => { console.error(e); process.exit(1); });`,
      ],
      ['node', '--disable-warning=ExperimentalWarning'],
    );
    expect(res.code, res.stderr).toBe(0);
    expect(Number(/loaded (\d+)/.exec(res.stdout)?.[1])).toBeGreaterThan(50);
  });

  it("every relative import in the image resolves, except the workstation-only commands' folders", async () => {
    // Commands that lazily import a folder the image does not ship; each needs a reason to stay out.
    const notShipped: Record<string, string> = {
      controlplane: '`nemokeys controlplane` / `dev` run kube-apiserver built with Go on a workstation',
      ui: '`nemokeys ui` serves the keys page from a workstation',
    };
    const res = await runInImage(
      image.id,
      [
        '-e',
        `
      const { existsSync, readdirSync, readFileSync } = require('node:fs');
      const { dirname, relative, resolve } = require('node:path');
      const missing = new Set();
      for (const f of readdirSync('/app', { recursive: true })) {
        if (!f.endsWith('.ts') || f.startsWith('node_modules/')) continue;
        const text = readFileSync('/app/' + f, 'utf8');
        for (const m of text.matchAll(/(?:from |import\\()'(\\.{1,2}\\/[^']+)'/g)) {
          const target = resolve('/app', dirname(f), m[1]);
          if (!existsSync(target)) missing.add(relative('/app', target));
        }
      }
      console.log(JSON.stringify([...missing]));`,
      ],
      ['node'],
    );
    expect(res.code, res.stderr).toBe(0);
    const missing = JSON.parse(res.stdout) as string[];
    expect(missing.filter((m) => !(m.split('/')[0]! in notShipped))).toEqual([]);
    expect(
      missing.some((m) => m.startsWith('controlplane/')),
      "the scan sees cli/controlplane.ts's imports",
    ).toBe(true);
  });

  it('starts `--help`, `operator` and `gateway` as uid 1000 on a read-only root', async () => {
    expect(await startProblems(image.id)).toEqual([]);
  });

  it.each(['operator', 'gateway'])(
    'an image whose Dockerfile drops %s/ from its COPY lines fails the start check',
    async (folder) => {
      const dockerfile = await readFile(join(REPO, 'Dockerfile'), 'utf8');
      const line = new RegExp(`^COPY ${folder} \\./${folder}\\n`, 'm');
      expect(dockerfile).toMatch(line);
      const dir = await mkdtemp(join(tmpdir(), 'nemokeys-mutant-'));
      tempDirs.push(dir);
      await writeFile(join(dir, 'Dockerfile'), dockerfile.replace(line, ''));
      const tag = `localhost/nemokeys-mutant:${folder}-${uniq}`;
      const mutant = await buildImage({ dockerfile: join(dir, 'Dockerfile'), tag, log: () => {} });
      mutants.push(mutant.tag);
      const problems = await startProblems(mutant.id);
      expect(problems.join('\n')).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/);
    },
    600_000,
  );

  describe.skipIf(!helm || !hasCluster())("the chart's pods, run from the image on the real API server", () => {
    const release = `img${uniq}`;
    const ns = `image-${uniq}`; // release namespace = records namespace = the router pod's namespace
    const app = `image-app-${uniq}`; // where the Team and ApiKey live
    let admin: KubeConfig;
    let issuedKey: string;
    let operator: Container;
    let gw: Container;

    beforeAll(async () => {
      admin = adminKubeConfig();
      await installCrds({ kubectl: clusterKubectl(), kubeconfigPath: clusterKubeconfig() }, crdYaml());
      await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    });

    afterAll(async () => {
      for (const c of started) await stopContainer(c).catch(() => null);
      const clusterWide = `${release}-nemokeys-operator`;
      await kubectl(['delete', '--ignore-not-found', 'clusterrole,clusterrolebinding', clusterWide]).catch(() => '');
      const guard = `${release}-nemokeys-audit-trail-guard`;
      for (const kind of ['validatingadmissionpolicybinding', 'validatingadmissionpolicy']) {
        await kubectl(['delete', '--ignore-not-found', kind, guard]).catch(() => '');
      }
      await kubectl(['delete', 'namespace', ns, app, '--wait=false']).catch(() => '');
    });

    it("the operator pod from the chart's Deployment (non-root, read-only root, token mount) issues a key", async () => {
      const [metricsPort, healthPort] = [await freePort(), await freePort()];
      const text = await helmTemplateText(helm!, {
        release,
        namespace: ns,
        set: {
          'image.repository': 'localhost/nemokeys',
          'image.tag': `test-${uniq}`,
          // Host networking: free loopback ports instead of the defaults, one namespace to reconcile.
          'operator.metricsPort': metricsPort,
          'operator.healthPort': healthPort,
          'operator.extraArgs[0]': '--bind-address=127.0.0.1',
          'operator.extraArgs[1]': `--namespace=${app}`,
          // The audit trail guard only where this operator works: cluster-wide it would refuse other files' operators.
          'auditTrailGuard.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name': app,
        },
      });
      await kubectl(['apply', '--server-side', '--field-manager=nemokeys-image-test', '-f', '-'], text);
      const deploy = parseAllDocuments(text)
        .map((d) => d.toJS())
        .find((o) => o?.kind === 'Deployment') as {
        metadata: { name: string };
        spec: { template: { spec: V1PodSpec } };
      };
      const spec = deploy.spec.template.spec;
      // The chart's default Node flags, on the command line (Node refuses V8 flags in NODE_OPTIONS).
      expect(spec.containers[0]!.command).toEqual([
        'node',
        '--optimize-for-size',
        '--disable-warning=ExperimentalWarning',
        'bin/nemokeys.js',
      ]);
      const podName = `${deploy.metadata.name}-${uniq}`;
      const saDir = await serviceAccountVolume(admin, ns, spec.serviceAccountName!);
      tempDirs.push(saDir);
      const ctx: PodRunContext = { podName, namespace: ns, serviceAccountDir: saDir, apiServer: apiServerOf(admin) };
      const container = spec.containers.find((c) => c.name === 'operator')!;
      operator = startContainer(podmanRunArgs(spec, container.name, ctx));
      await waitProbe(operator, container, container.livenessProbe);
      await waitProbe(operator, container, container.readinessProbe);

      expect(await insideView(operator)).toEqual({ ...HARDENED, tmpWrite: 'ok', namespace: ns });

      // Its only credentials are the mounted token: the key it issues came through the real API server.
      await createTeam(admin, app, 'team');
      await admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.apiKey.plural,
        namespace: app,
        body: {
          apiVersion: API_VERSION,
          kind: 'ApiKey',
          metadata: { name: 'svc' },
          spec: { team: 'team', environment: 'dev', expiration: '30d' },
        },
      });
      const secretName = await eventually(
        async () => {
          const ak = (await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            plural: KINDS.apiKey.plural,
            namespace: app,
            name: 'svc',
          })) as { status?: { secretName?: string; conditions?: { type: string; status: string }[] } };
          return ak.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && ak.status.secretName;
        },
        60_000,
        'ApiKey Ready',
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n--- operator output:\n${operator.output()}`);
      });
      const secret = await admin.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: app, name: secretName });
      issuedKey = Buffer.from(secret.data!['api-key']!, 'base64').toString();
      expect(issuedKey).toMatch(/^nr_dev_/);
      // The leader Lease names this pod: the container, not anything else, holds it.
      const leases = await kubectl(['get', 'lease', '-n', ns, '-o', 'json']);
      const holders = JSON.parse(leases).items.map((l: { spec: { holderIdentity: string } }) => l.spec.holderIdentity);
      expect(holders).toContain(podName);
      // Its metrics port answers too.
      expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
      expect(operator.output()).not.toContain(issuedKey);
    });

    it('the sidecar the install notes print, beside a router, enforces the key; /readyz and /metrics answer', async () => {
      expect(issuedKey, 'needs the key the operator pod issued').toBeDefined();
      const [routerPort, gatewayPort] = [await freePort(), await freePort()];
      const notes = await chartNotes(helm!, clusterKubeconfig(), {
        release,
        namespace: ns,
        set: {
          'image.repository': 'localhost/nemokeys',
          'image.tag': `test-${uniq}`,
          'gateway.upstream': `http://127.0.0.1:${routerPort}`,
          'gateway.port': gatewayPort,
          'gateway.metricsPort': await freePort(),
          // Host networking: loopback only (a later --listen wins over the chart's 0.0.0.0).
          'gateway.extraArgs[0]': `--listen=127.0.0.1:${gatewayPort}`,
          // Node flags render as the container's command (the operator pod runs the chart's default ones).
          'gateway.nodeFlags[0]': '--max-semi-space-size=1',
        },
      });
      const sidecar = sidecarFromNotes(notes);
      const gateway = sidecar.container as unknown as V1Container;
      expect(gateway.command).toEqual([
        'node',
        '--max-semi-space-size=1',
        '--disable-warning=ExperimentalWarning',
        'bin/nemokeys.js',
      ]);
      // The user's router, bound to loopback as the notes ask: here the demo upstream from the same image.
      const router: V1Container = {
        name: 'router',
        image: IMAGE_TAG,
        imagePullPolicy: 'Never',
        args: ['demo-upstream', `--listen=127.0.0.1:${routerPort}`],
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsUser: 1000,
          capabilities: { drop: ['ALL'] },
        },
      };
      const spec: V1PodSpec = {
        serviceAccountName: sidecar.serviceAccountName,
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [router, gateway],
      };
      const saDir = await serviceAccountVolume(admin, ns, sidecar.serviceAccountName);
      tempDirs.push(saDir);
      const ctx: PodRunContext = {
        podName: `llm-router-${uniq}`,
        namespace: ns,
        serviceAccountDir: saDir,
        apiServer: apiServerOf(admin),
      };
      startContainer(podmanRunArgs(spec, router.name, ctx));
      gw = startContainer(podmanRunArgs(spec, gateway.name, ctx));
      await waitProbe(gw, gateway, gateway.readinessProbe);
      await waitProbe(gw, gateway, gateway.livenessProbe);
      // The chart's container security context holds here too; the gateway has no /tmp volume.
      expect(await insideView(gw)).toEqual({ ...HARDENED, tmpWrite: 'EROFS', namespace: ns });

      const baseURL = `http://127.0.0.1:${gatewayPort}/v1`;
      const client = (apiKey: string) => new OpenAI({ apiKey, baseURL, maxRetries: 0 });
      const hello = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hello' }] };
      const ok = await eventually(() => client(issuedKey).chat.completions.create(hello), 30_000, 'a completion');
      expect(ok.choices[0]!.message.content).toBe('You said: hello');
      const bad = issuedKey.slice(0, -1) + (issuedKey.endsWith('A') ? 'B' : 'A');
      const denied = await client(bad)
        .chat.completions.create(hello)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(denied).toBeInstanceOf(OpenAI.APIError);
      expect((denied as InstanceType<typeof OpenAI.APIError>).status).toBe(401);

      const metricsUrl = probeUrl(gateway, gateway.readinessProbe).url.replace(/\/readyz$/, '/metrics');
      const metrics = await (await fetch(metricsUrl)).text();
      expect(metrics).toMatch(/nemokeys_gateway_requests_total\{[^}]*code="200"[^}]*\} 1/);
      expect(metrics).toMatch(/nemokeys_gateway_denials_total\{[^}]*\} 1/);
      expect(gw.output()).not.toContain(issuedKey);
    });

    it("both stop on SIGTERM (the kubelet's stop) with exit 0 within their grace period", async () => {
      for (const c of [gw, operator]) {
        expect(c, 'started by the tests above').toBeDefined();
        expect(await stopContainer(c), c.output()).toBe(0);
      }
    });
  });
});
