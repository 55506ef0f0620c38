// vitest globalSetup for the integration project: ONE real control plane (etcd + kube-apiserver)
// per run, shared by all integration test files through `inject('kubeconfig')`.
import type { TestProject } from 'vitest/node';
import { hasGo, readyBinaries } from '../controlplane/build.ts';
import { startControlPlane } from '../controlplane/controlplane.ts';
import { ensureHelm } from './support/helm.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig of the shared control plane; undefined when it could not be started. */
    kubeconfig: string | undefined;
    /** kubectl binary matching the control plane's version. */
    kubectl: string | undefined;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  if (!readyBinaries() && !hasGo()) {
    const msg =
      'Go toolchain not found and no cached/KUBEBUILDER_ASSETS binaries: cannot build kube-apiserver, kube-controller-manager + etcd';
    // In CI a silently skipped integration suite would be a green build that proved nothing.
    if (process.env.CI) throw new Error(`${msg} (CI is set, so this is fatal)`);
    const bar = '!'.repeat(100);
    console.warn(
      `\n${bar}\n!!! WARNING: ${msg}.\n!!! ALL INTEGRATION TESTS AGAINST THE REAL API SERVER WILL BE SKIPPED.\n` +
        `!!! Install Go >= 1.25 (or set KUBEBUILDER_ASSETS) to run them.\n${bar}\n`,
    );
    project.provide('kubeconfig', undefined);
    project.provide('kubectl', undefined);
    return;
  }
  const cp = await startControlPlane();
  // Build helm (chart tests) here too, so a cold first run compiles everything up front with progress
  // shown, instead of inside a test file's collection.
  await ensureHelm();
  project.provide('kubeconfig', cp.kubeconfigPath);
  project.provide('kubectl', cp.kubectl);
  // Also for code that runs outside vitest's inject (spawned CLIs, helpers reading env).
  process.env.NEMOKEYS_TEST_KUBECONFIG = cp.kubeconfigPath;
  process.env.NEMOKEYS_TEST_KUBECTL = cp.kubectl;
  return async () => {
    await cp.stop();
  };
}
