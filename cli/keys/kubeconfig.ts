// Picks the cluster with the shared kube/config.ts rules (--kubeconfig, $KUBECONFIG, in-cluster,
// ~/.kube/config), then applies kubectl's --context and -n on top. Records where each choice came
// from so "cannot reach the cluster" can say which kubeconfig and context were used.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  SERVICE_ACCOUNT_DIR,
  describeKubeConfigSource,
  loadKubeConfig,
  resolveKubeConfigSource,
  type KubeConfigEnv,
} from '../../kube/config.ts';
import { CliError, type TargetInfo } from './errors.ts';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export interface KubeTarget extends TargetInfo {
  kc: KubeConfig;
  /** -n, else the context's namespace, else "default" (kubectl's rule). */
  namespace: string;
}

const asCliError = <T>(run: () => T): T => {
  try {
    return run();
  } catch (err) {
    throw err instanceof CliError ? err : new CliError(err instanceof Error ? err.message : String(err));
  }
};

export function loadKubeTarget(flags: KubeFlags, env: NodeJS.ProcessEnv = process.env): KubeTarget {
  const kubeEnv: KubeConfigEnv = {
    env,
    exists: existsSync,
    home: env.HOME ?? homedir(),
    serviceAccountDir: SERVICE_ACCOUNT_DIR,
  };
  const source = asCliError(() => describeKubeConfigSource(resolveKubeConfigSource(flags.kubeconfig, kubeEnv)));
  const kc = asCliError(() => loadKubeConfig({ kubeconfig: flags.kubeconfig, env: kubeEnv }));
  if (flags.context) {
    if (!kc.getContextObject(flags.context)) {
      const known =
        kc
          .getContexts()
          .map((c) => c.name)
          .join(', ') || '<none>';
      throw new CliError(`context "${flags.context}" is not in ${source}. Contexts there: ${known}.`);
    }
    kc.setCurrentContext(flags.context);
  }
  const context = kc.getCurrentContext();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CliError(`context "${context}" in ${source} names no cluster.`);
  const namespace = flags.namespace ?? kc.getContextObject(context)?.namespace ?? 'default';
  return { kc, source, context, server: cluster.server, namespace };
}
