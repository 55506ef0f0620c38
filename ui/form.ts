// The create / edit form ↔ ApiKey spec, and the API server's validation causes → form fields, so an
// error is shown next to the field it concerns (docs/design.md §11). Pure; the API server stays the
// validator (CRD schema + CEL): we only turn text boxes into the spec's shapes.
import { isApiError } from '../kube/errors.ts';
import { parseStatus } from '../cli/keys/errors.ts';
import type { ApiKeyObject } from '../cli/keys/model.ts';

/** What the page posts: every value a string, as typed (lists separated by commas, spaces or newlines). */
export interface KeyForm {
  name?: string;
  team?: string;
  environment?: string;
  models?: string;
  endpoints?: string;
  ips?: string;
  /** Never, 30d, 90d, another duration, or an RFC 3339 datetime (the page converts its custom picker). */
  expiration?: string;
  rpm?: string;
  tpm?: string;
  budgetCredits?: string;
  budgetPeriod?: string;
}

export type FieldErrors = Partial<Record<keyof KeyForm | '_form', string>>;

export const EXPIRATION_PRESETS = ['Never', '30d', '90d'] as const;

const list = (text: string | undefined): string[] =>
  (text ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

function integer(text: string | undefined, field: keyof KeyForm, errors: FieldErrors): number | undefined {
  const t = (text ?? '').trim();
  if (t === '') return undefined;
  if (!/^\d+$/.test(t)) {
    errors[field] = `"${t}" is not a whole number`;
    return undefined;
  }
  return Number(t);
}

/**
 * The spec fields the form owns. For create, empty fields are left out; for an edit (a JSON merge
 * patch) they are null, which removes them — an empty model list means "everything the team allows".
 */
export function specFromForm(
  form: KeyForm,
  mode: 'create' | 'patch',
): { spec: Record<string, unknown>; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const none = mode === 'patch' ? null : undefined;
  const spec: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (v !== undefined) spec[k] = v;
  };
  const team = (form.team ?? '').trim();
  if (mode === 'create' && team === '') errors.team = 'choose the Team whose permissions this key inherits';
  if (team !== '') spec.team = team;
  put('environment', (form.environment ?? '').trim() || none);
  for (const [field, key] of [
    ['models', 'allowedModels'],
    ['endpoints', 'allowedEndpoints'],
    ['ips', 'ipAllowlist'],
  ] as const) {
    const values = list(form[field]);
    put(key, values.length > 0 ? values : none);
  }
  put('expiration', (form.expiration ?? '').trim() || 'Never');
  const rpm = integer(form.rpm, 'rpm', errors);
  const tpm = integer(form.tpm, 'tpm', errors);
  const rateLimit = {
    ...(rpm !== undefined && { requestsPerMinute: rpm }),
    ...(tpm !== undefined && { tokensPerMinute: tpm }),
  };
  put('rateLimit', Object.keys(rateLimit).length > 0 ? rateLimit : none);
  const credits = integer(form.budgetCredits, 'budgetCredits', errors);
  if (credits === undefined && (form.budgetPeriod ?? 'Never') !== 'Never' && !errors.budgetCredits) {
    errors.budgetCredits = 'a budget period needs a number of credits';
  }
  put('budget', credits !== undefined ? { credits, period: form.budgetPeriod || 'Never' } : none);
  return { spec, errors };
}

/** The form as it should be prefilled for editing or duplicating an ApiKey. */
export function formFromKey(obj: ApiKeyObject): KeyForm {
  const s = obj.spec ?? {};
  return {
    name: obj.metadata.name,
    team: s.team ?? '',
    environment: s.environment ?? '',
    models: (s.allowedModels ?? []).join(', '),
    endpoints: (s.allowedEndpoints ?? []).join(', '),
    ips: (s.ipAllowlist ?? []).join(', '),
    expiration: s.expiration ?? 'Never',
    rpm: s.rateLimit?.requestsPerMinute?.toString() ?? '',
    tpm: s.rateLimit?.tokensPerMinute?.toString() ?? '',
    budgetCredits: s.budget?.credits?.toString() ?? '',
    budgetPeriod: s.budget?.period ?? 'Never',
  };
}

/** spec (or metadata) path → form field; longest prefix first. */
const FIELD_OF_PATH: [string, keyof KeyForm][] = [
  ['spec.rateLimit.requestsPerMinute', 'rpm'],
  ['spec.rateLimit.tokensPerMinute', 'tpm'],
  ['spec.budget.credits', 'budgetCredits'],
  ['spec.budget.period', 'budgetPeriod'],
  ['spec.allowedModels', 'models'],
  ['spec.allowedEndpoints', 'endpoints'],
  ['spec.ipAllowlist', 'ips'],
  ['spec.expiration', 'expiration'],
  ['spec.environment', 'environment'],
  ['spec.team', 'team'],
  ['metadata.name', 'name'],
];

export function fieldOfPath(path: string | undefined): keyof KeyForm | '_form' {
  if (!path) return '_form';
  const hit = FIELD_OF_PATH.find(
    ([prefix]) => path === prefix || path.startsWith(`${prefix}[`) || path.startsWith(`${prefix}.`),
  );
  return hit ? hit[1] : '_form';
}

/**
 * The API server's 422 (Invalid) → one message per form field; other refusals (409 AlreadyExists,
 * 403) → the form's own message. undefined when the error is not an answer of the API server.
 */
export function fieldErrorsOf(err: unknown): FieldErrors | undefined {
  if (!isApiError(err)) return undefined;
  const status = parseStatus(err.body) as
    | { message?: string; details?: { causes?: { field?: string; message?: string }[] } }
    | undefined;
  const errors: FieldErrors = {};
  for (const cause of status?.details?.causes ?? []) {
    const field = fieldOfPath(cause.field);
    // CEL failures read `Invalid value: "string": must be …` (the type, not the value): name the entry instead.
    const text = (cause.message ?? 'invalid').replace(/^Invalid value: "(string|integer|object|array)": /, '');
    const index = /\[(\d+)\]$/.exec(cause.field ?? '')?.[1];
    const where =
      field === '_form' && cause.field ? `${cause.field}: ` : index !== undefined ? `entry ${Number(index) + 1}: ` : '';
    const message = `${where}${text}`;
    errors[field] = errors[field] ? `${errors[field]}; ${message}` : message;
  }
  if (Object.keys(errors).length === 0) errors._form = status?.message ?? `the API server answered ${err.code}`;
  return errors;
}
