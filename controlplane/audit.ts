// The audit wiring of the embedded control plane (`nemokeys dev`, tests): the project's audit Policy
// and a webhook backend that posts EventLists to the operator's receiver (docs/design.md §8). Kept apart
// from plan.ts so other kube-apiserver flag sets merge without touching each other.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** The chart ships the same file: one policy for every cluster. */
export const AUDIT_POLICY_PATH = new URL('../charts/nemokeys/files/audit-policy.yaml', import.meta.url);

export interface AuditWebhookOptions {
  /** Where the API server posts audit.k8s.io/v1 EventLists, e.g. http://127.0.0.1:PORT/audit. */
  url: string;
  /**
   * First retry delay after a 5xx/429/connection reset (then ×1.5, 5 tries; a refused connection is
   * not retried by kube-apiserver). Default 1s: the embedded receiver is local.
   */
  initialBackoff?: string;
  /** How long the batch backend collects events before posting. Default 1s (kube-apiserver: 30s). */
  batchMaxWait?: string;
  /** For an https:// url: the receiver serves loopbackReceiverTls(dir) (signed by the control plane's CA). */
  loopbackTls?: boolean;
}

/**
 * The embedded control plane's serving certificate (SANs include 127.0.0.1) doubles as the certificate
 * of a receiver on loopback: one CA, nothing more to issue. For `nemokeys dev` and tests only.
 */
export function loopbackReceiverTls(dir: string): { cert: string; key: string; caFile: string } {
  return {
    cert: readFileSync(join(dir, 'pki', 'serving.crt'), 'utf8'),
    key: readFileSync(join(dir, 'pki', 'serving.key'), 'utf8'),
    caFile: join(dir, 'pki', 'ca.crt'),
  };
}

/** Writes the policy and the webhook kubeconfig into `dir`; returns the kube-apiserver flags. */
export function auditArgs(dir: string, opts: AuditWebhookOptions): string[] {
  const policy = join(dir, 'audit-policy.yaml');
  writeFileSync(policy, readFileSync(AUDIT_POLICY_PATH));
  const webhookConfig = join(dir, 'audit-webhook.kubeconfig');
  writeFileSync(
    webhookConfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'nemokeys-audit',
          cluster: {
            server: opts.url,
            ...(opts.loopbackTls ? { 'certificate-authority': loopbackReceiverTls(dir).caFile } : {}),
          },
        },
      ],
      users: [{ name: 'kube-apiserver', user: {} }],
      contexts: [{ name: 'audit', context: { cluster: 'nemokeys-audit', user: 'kube-apiserver' } }],
      'current-context': 'audit',
    }),
  );
  return [
    `--audit-policy-file=${policy}`,
    `--audit-webhook-config-file=${webhookConfig}`,
    '--audit-webhook-version=audit.k8s.io/v1',
    // batch: the request never waits for the receiver; events are buffered (10 000) and retried.
    '--audit-webhook-mode=batch',
    `--audit-webhook-batch-max-wait=${opts.batchMaxWait ?? '1s'}`,
    `--audit-webhook-initial-backoff=${opts.initialBackoff ?? '1s'}`,
  ];
}
