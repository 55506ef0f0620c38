import { describe, expect, it } from 'vitest';
import { sourceIps } from '../../ui/static/format.js';
import { sourceIpEntries } from './source-ips.ts';

// The CLI and the page (plain JS, ui/static/format.js) say the same about a key's source allowlist: a key
// whose list lives in a ConfigMap must never read as "any source".
describe.each([
  ['cli', sourceIpEntries],
  ['page', sourceIps],
])('%s: source IPs', (_, f) => {
  it.each([
    [{}, []],
    [{ ipAllowlist: ['10.0.0.0/8'] }, ['10.0.0.0/8']],
    [{ ipAllowlistFrom: [{ configMapKeyRef: { name: 'ci-ranges', key: 'cidrs' } }] }, ['configmap ci-ranges/cidrs']],
    [
      { ipAllowlist: ['::1'], ipAllowlistFrom: [{ configMapKeyRef: { name: 'a', key: 'b' } }] },
      ['::1', 'configmap a/b'],
    ],
  ])('%j → %j', (spec, expected) => {
    expect(f(spec)).toEqual(expected);
  });
});
