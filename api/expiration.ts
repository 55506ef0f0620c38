import { DURATION_REGEX, parseDurationMs } from './duration.ts';

// spec.expiration: `Never`, a duration counted from the key id's creation, or an RFC 3339 datetime.
export const DATETIME_REGEX =
  /^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$/;
export const EXPIRATION_HINT =
  'Never, a duration such as 30d or 90d (unit s, m, h or d; at most 3660d), or an RFC 3339 datetime such as 2027-01-31T00:00:00Z';

export type Expiration = { kind: 'never' } | { kind: 'duration'; ms: number } | { kind: 'datetime'; at: Date };

/** Parses spec.expiration; undefined when it is not valid (the CRD's CEL rule rejects the same strings). */
export function parseExpiration(text: string | undefined): Expiration | undefined {
  if (text === undefined || text === 'Never') return { kind: 'never' };
  if (DURATION_REGEX.test(text)) {
    const ms = parseDurationMs(text);
    return ms === undefined ? undefined : { kind: 'duration', ms };
  }
  if (DATETIME_REGEX.test(text)) {
    const at = new Date(text);
    return Number.isNaN(at.getTime()) ? undefined : { kind: 'datetime', at };
  }
  return undefined;
}

/** When a key id created at `createdAt` expires, or null for never. */
export function expiresAtFor(expiration: Expiration, createdAt: Date): Date | null {
  switch (expiration.kind) {
    case 'never':
      return null;
    case 'duration':
      return new Date(createdAt.getTime() + expiration.ms);
    case 'datetime':
      return expiration.at;
  }
}

/** The longest lifetime an expiration gives a key created at `createdAt` (Infinity for never). */
export function lifetimeMs(expiration: Expiration, createdAt: Date): number {
  const at = expiresAtFor(expiration, createdAt);
  return at === null ? Number.POSITIVE_INFINITY : at.getTime() - createdAt.getTime();
}
