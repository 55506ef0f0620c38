// Endpoint and model scopes: pure functions over a record's effective scopes and the request path.
// Paths are matched in decoded, canonical form and with or without the `/v1` prefix, so
// `/v1/chat/completions`, `/chat/completions` and `/v1/chat%2Fcompletions` cannot be played against
// each other: a path the gateway would read differently from the router is refused outright.

/** Decoded path segments (query dropped), or undefined for paths we refuse to interpret. */
export function canonicalSegments(url: string): string[] | undefined {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path.length === 0 || path.charCodeAt(0) !== 0x2f /* / */ || path.length > 2048) return undefined;
  if (path.includes('\\') || path.includes('#')) return undefined;
  const raw = path.slice(1).split('/');
  const segments: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    let seg = raw[i]!;
    if (seg.length === 0) {
      if (i === raw.length - 1 && i > 0) break; // one trailing slash is harmless
      if (raw.length === 1) break; // the root path "/"
      return undefined; // "//": routers disagree on what it means
    }
    if (seg.includes('%')) {
      try {
        seg = decodeURIComponent(seg);
      } catch {
        return undefined;
      }
      if (seg.includes('/') || seg.includes('\\')) return undefined;
    }
    if (seg === '.' || seg === '..') return undefined;
    for (let c = 0; c < seg.length; c++) if (seg.charCodeAt(c) < 0x20 || seg.charCodeAt(c) === 0x7f) return undefined;
    segments.push(seg);
  }
  return segments;
}

/** `/v1/chat/completions` and `/chat/completions` are the same endpoint. */
export function endpointPath(segments: readonly string[]): string {
  const from = segments[0] === 'v1' ? 1 : 0;
  return `/${segments.slice(from).join('/')}`;
}

function normalizeEntry(entry: string): string {
  let e = entry.length > 1 && entry.endsWith('/') ? entry.slice(0, -1) : entry;
  if (e === '/v1') return '/';
  if (e.startsWith('/v1/')) e = e.slice(3);
  return e;
}

/**
 * Empty list = every endpoint. An entry matches its own path and the paths below it at a segment
 * boundary (`/responses` covers `/responses/{id}`, but `/chat` does not cover `/chatty`).
 */
export function endpointAllowed(endpoints: readonly string[], endpoint: string): boolean {
  if (endpoints.length === 0) return true;
  for (const raw of endpoints) {
    const entry = normalizeEntry(raw);
    if (entry === '/' || endpoint === entry) return true;
    if (endpoint.length > entry.length && endpoint.startsWith(entry) && endpoint.charCodeAt(entry.length) === 0x2f)
      return true;
  }
  return false;
}

/** `"*"` = every model; otherwise an exact name match. */
export function modelAllowed(models: readonly string[], model: string): boolean {
  for (const m of models) if (m === '*' || m === model) return true;
  return false;
}

export function allModelsAllowed(models: readonly string[]): boolean {
  return models.includes('*');
}

/**
 * Where the model comes from on a route:
 * - json-required: a JSON body whose `model` must be present (the router would otherwise pick one);
 * - json-optional: a JSON body whose `model` is checked when present (moderations has a default);
 * - multipart: the model is a form field we do not parse; allowed only for keys with every model;
 * - none: no model involved (GET /models, files, ...). Other JSON POSTs still have `model` checked
 *   when they carry one, so an unknown route cannot smuggle a model past the allowlist.
 */
export type ModelSource = 'json-required' | 'json-optional' | 'multipart' | 'none';

const MODEL_ROUTES: ReadonlyMap<string, ModelSource> = new Map<string, ModelSource>([
  ['/chat/completions', 'json-required'],
  ['/completions', 'json-required'],
  ['/embeddings', 'json-required'],
  ['/images/generations', 'json-required'],
  ['/responses', 'json-required'],
  ['/audio/speech', 'json-required'],
  ['/moderations', 'json-optional'],
  ['/rerank', 'json-required'],
  ['/audio/transcriptions', 'multipart'],
  ['/audio/translations', 'multipart'],
  ['/images/edits', 'multipart'],
  ['/images/variations', 'multipart'],
]);

export function modelSource(method: string, endpoint: string): ModelSource {
  if (method !== 'POST') return 'none';
  const trimmed = endpoint.length > 1 && endpoint.endsWith('/') ? endpoint.slice(0, -1) : endpoint;
  return MODEL_ROUTES.get(trimmed) ?? 'none';
}

const KNOWN_ENDPOINTS = [
  '/chat/completions',
  '/completions',
  '/embeddings',
  '/images/generations',
  '/images/edits',
  '/images/variations',
  '/audio/speech',
  '/audio/transcriptions',
  '/audio/translations',
  '/moderations',
  '/responses',
  '/rerank',
  '/models',
  '/files',
  '/batches',
  '/uploads',
  '/fine_tuning',
  '/vector_stores',
];

/** A bounded metric label: the known endpoint the path falls under, or "other". */
export function endpointLabel(endpoint: string): string {
  for (const known of KNOWN_ENDPOINTS) {
    if (endpoint === known || (endpoint.startsWith(known) && endpoint.charCodeAt(known.length) === 0x2f)) return known;
  }
  return 'other';
}
