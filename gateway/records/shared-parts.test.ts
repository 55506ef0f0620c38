import { describe, expect, it } from 'vitest';
import { createSecretIndex } from '../sources/secret-index.ts';
import { makeKeyAndRecord, recordSecretManifest } from '../sources/testing.ts';
import { RecordStore } from './store.ts';

// Records decoded from the Secrets the operator renders: the same values are one copy in the store, and
// sharing never changes what a record says.
function load(records: ReturnType<typeof makeKeyAndRecord>['record'][]) {
  const store = new RecordStore();
  const index = createSecretIndex(store, { schedule: () => {} });
  records.forEach((r, i) => {
    const s = recordSecretManifest(r, 'records');
    index.onChange({ ...s, metadata: { ...s.metadata, resourceVersion: String(i + 1) } }, 'add');
  });
  index.flush(true);
  return records.map((r) => store.get(r.keyId)!);
}

describe('shared record parts', () => {
  const ci = { ipAllowlist: Array.from({ length: 500 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`) };

  it('keys with the same scopes and limits share one copy of them; what each record says is unchanged', () => {
    const rendered = [
      makeKeyAndRecord({ scopes: ci, rateLimit: { requestsPerMinute: 60 }, expiresAt: '2030-01-01T00:00:00Z' }),
      makeKeyAndRecord({ scopes: ci, rateLimit: { requestsPerMinute: 60 }, expiresAt: '2030-01-01T00:00:00Z' }),
      makeKeyAndRecord({ scopes: { models: ['gpt-4o'] } }),
    ].map((k) => k.record);
    const [a, b, c] = load(rendered);
    expect([a, b, c]).toEqual(rendered);
    expect(a!.scopes).toBe(b!.scopes);
    expect(a!.scopes.ipAllowlist).toHaveLength(500);
    expect(a!.rateLimit).toBe(b!.rateLimit);
    expect(a!.owner).not.toBe(b!.owner);
    expect(c!.scopes).not.toBe(a!.scopes);
    expect(c!.scopes.models).toEqual(['gpt-4o']);
  });

  it('a record decoded later shares the copies of records decoded earlier (across loads)', () => {
    const [first] = load([makeKeyAndRecord({ scopes: ci }).record]);
    const [later] = load([makeKeyAndRecord({ scopes: ci }).record]);
    expect(later!.scopes).toBe(first!.scopes);
  });

  it('different scopes, limits or budgets are never shared', () => {
    const [x, y, z] = load(
      [
        makeKeyAndRecord({ scopes: { endpoints: ['/v1/chat/completions'] }, budget: { credits: 10, period: 'Daily' } }),
        makeKeyAndRecord({ scopes: { endpoints: ['/v1/embeddings'] }, budget: { credits: 10, period: 'Monthly' } }),
        makeKeyAndRecord({ rateLimit: { requestsPerMinute: 61 } }),
      ].map((k) => k.record),
    );
    expect(x!.scopes.endpoints).toEqual(['/v1/chat/completions']);
    expect(y!.scopes.endpoints).toEqual(['/v1/embeddings']);
    expect(x!.budget).toEqual({ credits: 10, period: 'Daily' });
    expect(y!.budget).toEqual({ credits: 10, period: 'Monthly' });
    expect(z!.rateLimit).toEqual({ requestsPerMinute: 61 });
  });
});
