import type { z } from 'zod';
import { ApiKeySpecSchema, type ApiKeySpec, type ApiKeySpecInput, type HandoffMode } from './apikey.ts';
import { DEFAULT_SECRET_DATA_KEY } from './constants.ts';
import { parseDurationMs } from './duration.ts';
import { TeamSpecSchema, type TeamSpec, type TeamSpecInput } from './team.ts';

// Objects as they come out of the caches, parsed with zod ONCE (memoised by object identity: cached
// objects are immutable, a change is a new object), and the spec defaults computed in ONE function.
// Everything else sees typed specs; an object whose spec does not parse gets a condition saying why
// (the planners' InvalidSpec), never a crash or a cast. docs/design.md §2.

/** What the API server serves: the CRD's structural schema (generated from the same zod) guarantees this shape. */
export interface ApiKeyLike {
  metadata?: { name?: string; namespace?: string };
  spec?: ApiKeySpecInput;
}
export interface TeamLike {
  spec?: TeamSpecInput;
}

export type Parsed<T> = { ok: true; spec: T } | { ok: false; error: string };

const describeIssues = (e: z.ZodError): string =>
  `spec is invalid: ${e.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;

function memoised<O extends object, T>(schema: z.ZodType<T>, specOf: (o: O) => unknown): (o: O) => Parsed<T> {
  const cache = new WeakMap<O, Parsed<T>>();
  return (o) => {
    let p = cache.get(o);
    if (p === undefined) {
      const r = schema.safeParse(specOf(o));
      p = r.success ? { ok: true, spec: r.data } : { ok: false, error: describeIssues(r.error) };
      cache.set(o, p);
    }
    return p;
  };
}

export const parseApiKeySpec: (ak: ApiKeyLike) => Parsed<ApiKeySpec> = memoised(
  ApiKeySpecSchema,
  (ak: ApiKeyLike) => ak.spec,
);
export const parseTeamSpec: (team: TeamLike) => Parsed<TeamSpec> = memoised(TeamSpecSchema, (t: TeamLike) => t.spec);

export interface ApiKeyDefaults {
  /** The workload Secret and its data key. */
  secret: { name: string; key: string };
  handoff: { mode: HandoffMode; idleMs: number; maxOverlapMs: number };
}

const DEFAULT_IDLE_MS = 3_600_000;
const DEFAULT_MAX_OVERLAP_MS = 7 * 86_400_000;

/**
 * The one place spec defaults are computed: the Secret is the ApiKey's name with data key `api-key`;
 * hand-off is the key's own setting, else its Team's default, else Automatic after 1h idle, at most 7d.
 * Takes the raw spec too (the CLI reads objects it does not validate), so it never throws.
 */
export function apiKeyDefaults(
  name: string,
  spec: Partial<ApiKeySpecInput> | undefined,
  team?: Partial<TeamSpecInput>,
): ApiKeyDefaults {
  const h = spec?.rotation?.handoff;
  const teamMode = team?.defaults?.rotation?.handoff?.mode;
  return {
    secret: { name: spec?.secret?.name ?? name, key: spec?.secret?.key ?? DEFAULT_SECRET_DATA_KEY },
    handoff: {
      mode: h?.mode ?? teamMode ?? 'Automatic',
      idleMs: (h?.idle && parseDurationMs(h.idle)) || DEFAULT_IDLE_MS,
      maxOverlapMs: (h?.maxOverlap && parseDurationMs(h.maxOverlap)) || DEFAULT_MAX_OVERLAP_MS,
    },
  };
}
