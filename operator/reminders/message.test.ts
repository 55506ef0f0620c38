import { describe, expect, it } from 'vitest';
import { KEY_SCANNER_PATTERN } from '../../api/keyformat.ts';
import { reminderMessage } from './message.ts';

describe('reminderMessage', () => {
  const base = {
    namespace: 'shop',
    name: 'checkout',
    keyId: 'ABCDEFGHJKMNPQRS',
    expiresAt: new Date('2026-12-31T00:00:00Z'),
  };

  it('says which key, when and what to do; the Message-ID is the same for the same key id and kind', () => {
    const m = reminderMessage({ ...base, kind: '1d', now: new Date('2026-12-30T00:00:30Z') });
    expect(m.subject).toBe(
      '[nemokeys] ApiKey shop/checkout (key id ABCDEFGHJKMNPQRS) expires in 23 hour(s) (2026-12-31T00:00:00.000Z)',
    );
    expect(m.text).toContain('nemokeys keys rotate checkout -n shop');
    expect(m.messageId).toBe('<ABCDEFGHJKMNPQRS.1d.checkout.shop@nemokeys>');
    expect(reminderMessage({ ...base, kind: '1d', now: new Date() }).messageId).toBe(m.messageId);
  });

  it('at expiry', () => {
    const m = reminderMessage({ ...base, kind: 'expired', now: base.expiresAt });
    expect(m.subject).toBe('[nemokeys] ApiKey shop/checkout (key id ABCDEFGHJKMNPQRS) has expired');
    expect(m.text).toMatch(/refused \(401\)/);
    expect(`${m.subject}\n${m.text}`).not.toMatch(new RegExp(KEY_SCANNER_PATTERN));
  });
});
