// An own control plane whose kube-apiserver audit webhook (and the validating admission webhook that annotates
// the events) reach an operator of the test: the audit trail then names people, their IP and the API server's
// time (docs/design.md §8). Start ≈ 6 s; the shared harness control plane has no audit webhook.
import { readFileSync } from 'node:fs';
import { AdmissionregistrationV1Api, type V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { crdYaml } from '../../api/crd.ts';
import { loopbackReceiverTls } from '../../controlplane/audit.ts';
import { installCrds, startControlPlane, type ControlPlane } from '../../controlplane/controlplane.ts';
import { freePort } from '../../controlplane/process.ts';
import { validatingWebhookConfiguration } from '../../operator/audit/admission.ts';
import type { AuditTrailOptions } from '../../operator/audit/wiring.ts';

export interface AuditedControlPlane {
  cp: ControlPlane;
  /** `runOperator({ audit })`: the receiver the control plane's webhooks post to. */
  audit: AuditTrailOptions;
}

/** Starts the control plane with the CRDs (+ `extraYaml`) and the admission webhook; the operator is the caller's. */
export async function startAuditedControlPlane(extraYaml: string[] = []): Promise<AuditedControlPlane> {
  const port = await freePort();
  const cp = await startControlPlane({ audit: { url: `https://127.0.0.1:${port}/audit`, loopbackTls: true } });
  await installCrds(cp, [crdYaml(), ...extraYaml].join('\n---\n'));
  const { cert, key, caFile } = loopbackReceiverTls(cp.dir);
  await cp
    .kubeConfig()
    .makeApiClient(AdmissionregistrationV1Api)
    .createValidatingWebhookConfiguration({
      body: validatingWebhookConfiguration(
        `https://127.0.0.1:${port}/admission`,
        readFileSync(caFile, 'utf8'),
      ) as V1ValidatingWebhookConfiguration,
    });
  return { cp, audit: { listen: { host: '127.0.0.1', port }, tls: { cert, key } } };
}
