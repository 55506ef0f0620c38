import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { DEFAULT_RECORDS_NAMESPACE } from '../api/constants.ts';
import { DEFAULT_DEV_DIR, upWithCrds } from './controlplane.ts';

// `nemokeys dev`: the whole product on one machine — a real API server with the CRDs, the examples,
// the operator, a demo OpenAI-compatible upstream and the gateway in front of it — until Ctrl-C.
const EXAMPLES = resolve(import.meta.dirname, '..', 'examples');

interface DevOptions {
  dir: string;
  port: string;
  metricsPort: string;
  keepControlplane: boolean;
}

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('run everything locally: control plane + CRDs + examples + operator + gateway + demo upstream')
    .option('--dir <dir>', 'control-plane state directory', DEFAULT_DEV_DIR)
    .option('--port <port>', 'gateway port (0: a free one)', '8787')
    .option('--metrics-port <port>', 'gateway metrics port (0: a free one)', '9797')
    .option('--keep-controlplane', 'leave the control plane running on exit', false)
    .action(async (opts: DevOptions) => runDev(opts));
}

export async function assertPortFree(port: number, flag: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((ok, fail) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        err.code !== 'EADDRINUSE'
          ? err
          : new Error(
              `port ${port} on 127.0.0.1 is in use (another nemokeys dev?): pass ${flag} PORT, or ${flag} 0 for a free one`,
            ),
      ),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => ok()));
  });
}

async function runDev(opts: DevOptions): Promise<void> {
  const say = (l: string) => process.stdout.write(`${l}\n`);
  const dir = resolve(opts.dir);
  await assertPortFree(Number(opts.port), '--port');
  await assertPortFree(Number(opts.metricsPort), '--metrics-port');
  const { controlPlaneStatus, controlPlaneDown } = await import('../controlplane/detached.ts');
  const running = controlPlaneStatus({ dir });
  let kubeconfig: string;
  let kubectl: string;
  if (running) {
    say(`reusing the control plane already running in ${dir}`);
    const { ensureBinaries } = await import('../controlplane/build.ts');
    ({ kubectl } = await ensureBinaries());
    kubeconfig = running.kubeconfig;
  } else {
    say(
      'starting the control plane (the first run builds kube-apiserver, kube-controller-manager, etcd and kubectl from Go modules: ~10-20 minutes)',
    );
    ({ kubeconfig, kubectl } = await upWithCrds(dir));
  }
  const env = { ...process.env, KUBECONFIG: kubeconfig };
  const kc = (...args: string[]) => execFileSync(kubectl, args, { env, encoding: 'utf8' });
  execFileSync(kubectl, ['apply', '--server-side', '-f', '-'], {
    env,
    input: kc('create', 'namespace', DEFAULT_RECORDS_NAMESPACE, '--dry-run=client', '-o', 'yaml'),
  });

  const [{ runOperator }, { runGateway }, { startDemoUpstream }] = await Promise.all([
    import('../operator/main.ts'),
    import('../gateway/main.ts'),
    import('../gateway/demo-upstream.ts'),
  ]);
  // The control plane's audit webhook posts to this port; the admission webhook annotates the events.
  const auditPort = controlPlaneStatus({ dir })?.auditPort;
  const { loopbackReceiverTls } = await import('../controlplane/audit.ts');
  const tls = auditPort ? loopbackReceiverTls(dir) : undefined;
  if (auditPort && tls) {
    const { validatingWebhookConfiguration } = await import('../operator/audit/admission.ts');
    execFileSync(kubectl, ['apply', '--server-side', '--field-manager=nemokeys-dev', '-f', '-'], {
      env,
      input: JSON.stringify(
        validatingWebhookConfiguration(`https://127.0.0.1:${auditPort}/admission`, readFileSync(tls.caFile, 'utf8')),
      ),
    });
  } else {
    say('this control plane was started without an audit webhook: `keys history` will show unknown source IPs');
  }
  // Only the operator writes audit trails (docs/design.md §8); here it runs as its own user (devOperatorKubeconfig).
  const { devOperatorKubeconfig } = await import('../controlplane/dev-operator.ts');
  const operatorKubeconfig = devOperatorKubeconfig(dir, controlPlaneStatus({ dir })!.server);
  const [{ auditTrailGuard }, { whoAmI }, { KubeClient }, { loadKubeConnection }] = await Promise.all([
    import('../controlplane/audit-trail-guard.ts'),
    import('../operator/audit/wiring.ts'),
    import('../kube/client.ts'),
    import('../kube/kubeconfig.ts'),
  ]);
  const operatorClient = new KubeClient(loadKubeConnection({ kubeconfig: operatorKubeconfig }));
  const operatorUser = await whoAmI(operatorClient).finally(() => operatorClient.close());
  if (operatorUser) {
    execFileSync(kubectl, ['apply', '--server-side', '--field-manager=nemokeys-dev', '-f', '-'], {
      env,
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: auditTrailGuard({ name: 'nemokeys-audit-trail-guard', operatorUser }),
      }),
    });
  }
  const operator = await runOperator({
    kubeconfig: operatorKubeconfig,
    recordsNamespace: DEFAULT_RECORDS_NAMESPACE,
    metricsPort: 0,
    healthPort: 0,
    logLevel: 'warn',
    leaderElection: false,
    leaseNamespace: DEFAULT_RECORDS_NAMESPACE,
    // Local batches arrive within seconds: 15 s is long enough to wait for an audit event before
    // recording a change as observed (the 5 min default covers kube-apiserver's default batching).
    ...(auditPort && tls
      ? {
          audit: {
            listen: { host: '127.0.0.1', port: auditPort },
            tls: { cert: tls.cert, key: tls.key },
            observedGraceMs: 15_000,
          },
        }
      : {}),
  });
  // After the operator: its audit receiver is listening, so the examples' creation is in `keys history`.
  say(kc('apply', '--server-side', '--field-manager=nemokeys-dev', '-f', EXAMPLES).trim());
  const upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
  const { startUiFromFlags } = await import('./ui.ts');
  const page = await startUiFromFlags({ kubeconfig, namespace: 'checkout' });
  const gateway = await runGateway({
    upstream: upstream.url,
    listen: { host: '127.0.0.1', port: Number(opts.port) },
    metricsPort: Number(opts.metricsPort),
    recordsNamespace: DEFAULT_RECORDS_NAMESPACE,
    kubeconfig,
    logLevel: 'warn',
  });
  // The hints below read the dev key's Secret at once: print them only when the operator has issued it.
  // Async, because the operator reconciles in this very process (execFileSync would block it).
  await promisify(execFile)(
    kubectl,
    ['wait', '--for=condition=Ready', 'apikey/dev-checkout-service', '-n', 'checkout', '--timeout=120s'],
    { env },
  );

  say(`
nemokeys is running.
  keys page          ${page.url}
  operator metrics   http://127.0.0.1:${operator.metricsPort}/metrics
  gateway            ${gateway.url}  (metrics ${gateway.metricsUrl})
  demo upstream      ${upstream.url}

In another shell:
  export KUBECONFIG=${kubeconfig}
  alias kubectl=${kubectl}
  kubectl get teams,apikeys -n checkout
  KEY=$(kubectl get secret dev-checkout-service -n checkout -o jsonpath='{.data.api-key}' | base64 -d)
  curl -s ${gateway.url}/v1/chat/completions -H "Authorization: Bearer $KEY" \\
       -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
  npx nemokeys keys list -n checkout
  npx nemokeys keys history dev-checkout-service -n checkout

Ctrl-C stops everything${opts.keepControlplane ? ' but the control plane' : ''}.`);

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  say('stopping…');
  await page.close();
  await gateway.stop();
  await operator.stop();
  await upstream.close();
  if (!opts.keepControlplane) await controlPlaneDown({ dir });
}
