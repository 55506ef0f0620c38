// The audit trail guard for the embedded control plane (`nemokeys dev`): the chart's one policy source,
// charts/nemokeys/files/audit-trail-guard.yaml, filled in exactly as templates/audit-trail-guard.yaml does
// (docs/design.md §8). Never a second hand-written copy.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export const AUDIT_TRAIL_GUARD_PATH = new URL('../charts/nemokeys/files/audit-trail-guard.yaml', import.meta.url);

export interface GuardObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** The policy and its binding: `operatorUser` is the one writer of trails; the binding covers `namespaceSelector`. */
export function auditTrailGuard(opts: {
  name: string;
  operatorUser: string;
  namespaceSelector?: Record<string, unknown>;
}): GuardObject[] {
  if (opts.operatorUser.includes("'"))
    throw new Error(`operator user ${JSON.stringify(opts.operatorUser)} cannot contain a quote`);
  const text = readFileSync(AUDIT_TRAIL_GUARD_PATH, 'utf8')
    .replaceAll('__NAME__', opts.name)
    .replaceAll('__OPERATOR_USER__', opts.operatorUser);
  return text
    .split('\n---\n')
    .map((part) => parseAllDocuments(part)[0]!.toJS() as GuardObject)
    .map((doc) =>
      doc.kind === 'ValidatingAdmissionPolicyBinding'
        ? { ...doc, spec: { ...doc.spec, matchResources: { namespaceSelector: opts.namespaceSelector ?? {} } } }
        : doc,
    );
}
