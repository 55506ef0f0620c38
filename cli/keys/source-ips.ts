import type { ApiKeySpecInput } from '../../api/apikey.ts';

// What a key's source allowlist is, for people: spec.ipAllowlist plus each spec.ipAllowlistFrom ConfigMap
// named (its CIDRs are read by the operator, docs/design.md §2). Empty only when both are: "any source".
export function sourceIpEntries(spec: Pick<ApiKeySpecInput, 'ipAllowlist' | 'ipAllowlistFrom'>): string[] {
  const from = (spec.ipAllowlistFrom ?? []).map((r) => `configmap ${r.configMapKeyRef.name}/${r.configMapKeyRef.key}`);
  return [...(spec.ipAllowlist ?? []), ...from];
}
