// kube-controller-manager for the embedded control plane (docs/design.md §6): without it ClusterRole
// aggregation, garbage collection by ownerReferences, namespace deletion and Deployment rollouts never
// happen. Shared by the attached (tests) and detached (`nemokeys dev`) modes, like plan.ts.
import { join } from 'node:path';
import { issue, writeClientKubeconfig, type Pki } from './certs.ts';
import { httpsGet, waitFor, type TlsClient } from './process.ts';

export interface ControllerManagerPlan {
  kubeconfigPath: string;
  log: string;
}

/**
 * The controllers we run, and no more: every controller is informers (watches) plus work on every test's
 * objects, and the whole integration suite shares one control plane on a small machine.
 * - clusterrole-aggregation: fills `view` / `edit` / `admin` from the aggregate-to-* roles (the chart's
 *   user-facing roles reach namespace users this way).
 * - garbage-collector: deletes dependents by ownerReferences (the operator's workload Secrets, old ReplicaSets).
 * - namespace: empties and removes a namespace being deleted (else it stays Terminating forever).
 * - deployment: a pod-template change (restart target) makes a new ReplicaSet, as in a real cluster.
 * - serviceaccount-token: fills legacy `kubernetes.io/service-account-token` Secrets someone creates.
 * Not run: replicaset (its Pods would never be scheduled, there is no scheduler or kubelet), serviceaccount
 * (the `default` ServiceAccount only matters to Pods), node/endpoint/job/… controllers.
 */
export const CONTROLLERS = [
  'clusterrole-aggregation-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'deployment-controller',
  'serviceaccount-token-controller',
] as const;

/** Issues the controller-manager's client certificate (its well-known RBAC user) and its kubeconfig. */
export function prepareControllerManager(dir: string, server: string, pki: Pki): ControllerManagerPlan {
  issue(pki, 'controller-manager', '/CN=system:kube-controller-manager', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  const kubeconfigPath = join(dir, 'controller-manager.kubeconfig');
  writeClientKubeconfig(kubeconfigPath, server, pki, {
    user: 'system:kube-controller-manager',
    cert: join(pki.dir, 'controller-manager.crt'),
    key: join(pki.dir, 'controller-manager.key'),
  });
  return { kubeconfigPath, log: join(dir, 'kube-controller-manager.log') };
}

export function controllerManagerArgs(cm: ControllerManagerPlan, pki: Pki): string[] {
  return [
    `--kubeconfig=${cm.kubeconfigPath}`,
    `--controllers=${CONTROLLERS.join(',')}`,
    // Each controller acts as its own ServiceAccount (kube-system/<controller>), so RBAC applies to it as
    // in a kubeadm cluster; the bootstrap roles of the API server grant exactly what each one needs.
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.saKey}`,
    `--root-ca-file=${pki.caCert}`,
    // One instance: no Lease to renew every two seconds.
    '--leader-elect=false',
    // Nothing scrapes its metrics or health endpoint: no listening port, no delegated authn/authz calls.
    '--secure-port=0',
    '--profiling=false',
  ];
}

/**
 * Ready = the aggregation controller has filled the built-in `view` ClusterRole, which the API server
 * creates with an aggregation rule and no rules of its own: proof the controllers are running.
 */
export async function waitControllerManagerReady(
  server: string,
  tls: TlsClient,
  died: () => string | undefined,
  timeoutMs = 120_000,
): Promise<void> {
  await waitFor(
    'kube-controller-manager (ClusterRole view aggregated)',
    async () => {
      const res = await httpsGet(`${server}/apis/rbac.authorization.k8s.io/v1/clusterroles/view`, tls);
      return res.status === 200 && ((JSON.parse(res.body) as { rules?: unknown[] }).rules?.length ?? 0) > 0;
    },
    { timeoutMs, died },
  );
}
