// Picks the cluster the way kubectl does: --kubeconfig, then $KUBECONFIG, then ~/.kube/config, then the
// in-cluster ServiceAccount; --context and -n override the context's own. Records where each choice
// came from so "cannot reach the cluster" can say which kubeconfig and context were used.
// (Local to the CLI until a shared kube/config.ts exists.)
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
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

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function load(kc: KubeConfig, flags: KubeFlags, env: NodeJS.ProcessEnv): string {
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  try {
    if (flags.kubeconfig) {
      if (!existsSync(flags.kubeconfig)) throw new CliError(`kubeconfig ${flags.kubeconfig} (--kubeconfig) does not exist.`);
      kc.loadFromFile(flags.kubeconfig);
      return `--kubeconfig ${flags.kubeconfig}`;
    }
    if (env.KUBECONFIG) {
      const files = env.KUBECONFIG.split(':').filter((f) => f !== '' && existsSync(f));
      if (files.length === 0) throw new CliError(`KUBECONFIG=${env.KUBECONFIG} names no existing file.`);
      // Several files are merged like kubectl does (loadFromDefault reads process.env for that).
      if (files.length === 1 && files[0] !== undefined) kc.loadFromFile(files[0]);
      else kc.loadFromDefault();
      return `KUBECONFIG=${env.KUBECONFIG}`;
    }
    if (existsSync(home)) {
      kc.loadFromFile(home);
      return home;
    }
    if (env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
      kc.loadFromCluster();
      return 'the in-cluster ServiceAccount';
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read the kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
  }
  throw new CliError(`no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create ${home}.`);
}

export function loadKubeTarget(flags: KubeFlags, env: NodeJS.ProcessEnv = process.env): KubeTarget {
  const kc = new KubeConfig();
  const source = load(kc, flags, env);
  if (flags.context) {
    if (!kc.getContextObject(flags.context)) {
      const known = kc.getContexts().map((c) => c.name).join(', ') || '<none>';
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
