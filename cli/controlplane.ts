import { resolve } from 'node:path';
import type { Command } from 'commander';

// `nemokeys controlplane up|down|status`: a real kube-apiserver + kube-controller-manager + etcd on loopback
// for local runs, detached so kubectl and the operator can use it after this command returns.
export const DEFAULT_DEV_DIR = '.nemokeys/controlplane';

/** Starts the control plane in `dir`, installs the CRDs, returns the kubeconfig path and kubectl. */
export async function upWithCrds(dir: string, version?: string): Promise<{ kubeconfig: string; kubectl: string }> {
  const [{ controlPlaneUp }, { ensureBinaries }, { installCrds }, { crdYaml }] = await Promise.all([
    import('../controlplane/detached.ts'),
    import('../controlplane/build.ts'),
    import('../controlplane/controlplane.ts'),
    import('../api/crd.ts'),
  ]);
  const log = (l: string) => process.stderr.write(`[controlplane] ${l}\n`);
  const kubeconfig = await controlPlaneUp({ dir, version, log });
  const { kubectl } = await ensureBinaries({ version, log });
  const crds = await installCrds({ kubectl, kubeconfigPath: kubeconfig }, crdYaml());
  log(`CRDs installed and Established: ${crds.join(', ')}`);
  return { kubeconfig, kubectl };
}

export function registerControlPlane(program: Command): void {
  const cp = program
    .command('controlplane')
    .description(
      'run a real Kubernetes API server (kube-apiserver + kube-controller-manager + etcd, built from Go modules) on loopback',
    );
  cp.command('up')
    .description(
      'start it detached, install the CRDs, write DIR/kubeconfig (the first run builds the binaries: minutes)',
    )
    .option('--dir <dir>', 'state directory', DEFAULT_DEV_DIR)
    .option('--k8s-version <version>', 'Kubernetes version (default: NEMOKEYS_K8S_VERSION or the tested one)')
    .action(async (opts: { dir: string; k8sVersion?: string }) => {
      const { kubeconfig, kubectl } = await upWithCrds(resolve(opts.dir), opts.k8sVersion);
      process.stdout.write(`export KUBECONFIG=${kubeconfig}\n# kubectl matching the server: ${kubectl}\n`);
    });
  cp.command('down')
    .description('stop the control plane started in DIR and remove its state')
    .option('--dir <dir>', 'state directory', DEFAULT_DEV_DIR)
    .action(async (opts: { dir: string }) => {
      const { controlPlaneDown } = await import('../controlplane/detached.ts');
      const wasRunning = await controlPlaneDown({ dir: resolve(opts.dir) });
      process.stdout.write(
        wasRunning ? `stopped the control plane in ${opts.dir}\n` : `no control plane was running in ${opts.dir}\n`,
      );
    });
  cp.command('status')
    .description('say whether a control plane runs in DIR')
    .option('--dir <dir>', 'state directory', DEFAULT_DEV_DIR)
    .action(async (opts: { dir: string }) => {
      const { controlPlaneStatus } = await import('../controlplane/detached.ts');
      const s = controlPlaneStatus({ dir: resolve(opts.dir) });
      if (!s) {
        process.stdout.write(`no control plane running in ${opts.dir}\n`);
        process.exitCode = 1;
      } else
        process.stdout.write(
          `running v${s.version} at ${s.server} since ${s.startedAt}\nexport KUBECONFIG=${s.kubeconfig}\n`,
        );
    });
}
