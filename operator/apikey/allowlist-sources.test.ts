import type { V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { AllowlistSources } from './allowlist-sources.ts';
import { apiKey, team } from './testing.ts';

// The ConfigMap side of spec.ipAllowlistFrom (docs/design.md §2): one GET per ConfigMap version, errors
// that name ConfigMap, key and line, and the index that tells which ApiKeys a ConfigMap change concerns.

const NS = 'team-a';
const cm = (name: string, rv: string, data: Record<string, string>): V1ConfigMap => ({
  metadata: { name, namespace: NS, resourceVersion: rv },
  data,
});
const ref = (name: string, key = 'cidrs') => ({ configMapKeyRef: { name, key } });

/** A server of ConfigMaps, a metadata cache that may lag it, and a count of GETs. */
function world() {
  const server = new Map<string, V1ConfigMap>();
  const cache = new Map<string, V1ConfigMap>();
  let gets = 0;
  const sources = new AllowlistSources(
    { get: (_ns, name) => cache.get(name), list: () => [...cache.values()] },
    async (_ns, name) => {
      gets++;
      return server.get(name);
    },
  );
  const put = (c: V1ConfigMap) => {
    server.set(c.metadata!.name!, c);
    cache.set(c.metadata!.name!, { metadata: c.metadata! });
  };
  return { sources, put, server, cache, gets: () => gets };
}

describe('AllowlistSources', () => {
  it('reads a ConfigMap once per resourceVersion and joins the lists in reference order', async () => {
    const w = world();
    w.put(cm('a', '1', { cidrs: '10.0.0.0/8\n', more: '# x\n2001:db8::/32' }));
    w.put(cm('b', '5', { cidrs: '192.0.2.1' }));
    const refs = [ref('a'), ref('a', 'more'), ref('b')];
    expect(await w.sources.resolve(NS, refs)).toEqual({
      ok: true,
      cidrs: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'],
    });
    await w.sources.resolve(NS, refs);
    expect(w.gets()).toBe(2);
    w.put(cm('a', '2', { cidrs: '10.1.0.0/16' }));
    expect(await w.sources.resolve(NS, [ref('a')])).toEqual({ ok: true, cidrs: ['10.1.0.0/16'] });
    expect(w.gets()).toBe(3);
  });

  it.each([
    ['a missing ConfigMap', undefined, 'ConfigMap a not found in namespace team-a'],
    ['a missing key', { other: '10.0.0.0/8' }, 'ConfigMap a has no key "cidrs"'],
    [
      'a bad line',
      { cidrs: '10.0.0.0/8\n10.0.0/8' },
      'ConfigMap a key "cidrs": line 2 ("10.0.0/8") is not a CIDR block or IP address',
    ],
  ])('names %s', async (_, data, error) => {
    const w = world();
    if (data) w.put(cm('a', '1', data));
    expect(await w.sources.resolve(NS, [ref('a')])).toEqual({ ok: false, error });
  });

  it('asks the API server when the watch has not shown a ConfigMap yet', async () => {
    const w = world();
    w.server.set('a', cm('a', '1', { cidrs: '10.0.0.0/8' }));
    expect(await w.sources.resolve(NS, [ref('a')])).toEqual({ ok: true, cidrs: ['10.0.0.0/8'] });
  });

  it('enqueues exactly the ApiKeys that reference a changed ConfigMap, following spec changes and deletes', () => {
    const w = world();
    const one = apiKey({ ipAllowlistFrom: [ref('a'), ref('b')] }, { name: 'one' });
    const two = apiKey({ ipAllowlistFrom: [ref('a')] }, { name: 'two' });
    w.sources.updateApiKey(one, `${NS}/one`, 'add');
    w.sources.updateApiKey(two, `${NS}/two`, 'add');
    w.sources.updateApiKey(apiKey({}, { name: 'three' }), `${NS}/three`, 'add');
    expect(w.sources.referrersOf(cm('a', '2', {}), 'update').sort()).toEqual([`${NS}/one`, `${NS}/two`]);
    expect(w.sources.referrersOf(cm('b', '2', {}), 'update')).toEqual([`${NS}/one`]);
    w.sources.updateApiKey(apiKey({ ipAllowlistFrom: [ref('b')] }, { name: 'one' }), `${NS}/one`, 'update');
    w.sources.updateApiKey(two, `${NS}/two`, 'delete');
    expect(w.sources.referrersOf(cm('a', '3', {}), 'update')).toEqual([]);
    expect(w.sources.referrersOf(cm('b', '3', {}), 'update')).toEqual([`${NS}/one`]);
    expect(w.sources.referrersOf(cm('other', '1', {}), 'add')).toEqual([]);
  });

  it('names the Teams that reference a changed ConfigMap (their keys are reconciled), following Team changes', () => {
    const w = world();
    w.sources.updateTeam(team({ ipAllowlistFrom: [ref('a')] }, 'ci'), `${NS}/ci`, 'add');
    w.sources.updateTeam(team({ ipAllowlistFrom: [ref('a'), ref('b')] }, 'ops'), `${NS}/ops`, 'add');
    w.sources.updateTeam(team({}, 'web'), `${NS}/web`, 'add');
    w.sources.updateApiKey(apiKey({ ipAllowlistFrom: [ref('a')] }, { name: 'one' }), `${NS}/one`, 'add');
    expect(w.sources.teamReferrersOf(cm('a', '2', {})).sort()).toEqual([`${NS}/ci`, `${NS}/ops`]);
    expect(w.sources.referrersOf(cm('a', '2', {}), 'update')).toEqual([`${NS}/one`]); // keys and Teams apart
    w.sources.updateTeam(team({ ipAllowlistFrom: [ref('b')] }, 'ci'), `${NS}/ci`, 'update');
    w.sources.updateTeam(team({ ipAllowlistFrom: [ref('b')] }, 'ops'), `${NS}/ops`, 'delete');
    expect(w.sources.teamReferrersOf(cm('a', '3', {}))).toEqual([]);
    expect(w.sources.teamReferrersOf(cm('b', '3', {}))).toEqual([`${NS}/ci`]);
  });
});
