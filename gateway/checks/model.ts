import type { KeyRecord } from '../../api/record.ts';
import type { DenialReason } from '../errors.ts';
import { modelAllowed, type ModelSource } from './scopes.ts';

// Step 5 of docs/design.md §4: the `model` of a buffered JSON body against the key's model scope. Pure.

export type ModelCheck =
  | {
      ok: true;
      model: string | undefined /** The parsed body, when it is a JSON object. */;
      json: Record<string, unknown> | undefined;
    }
  | { ok: false; reason: Extract<DenialReason, 'bad_request' | 'model_not_allowed'>; detail: string };

const MAX_MODEL_LENGTH = 256;

export function checkModel(record: KeyRecord, source: ModelSource, body: Buffer): ModelCheck {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'bad_request', detail: 'The body is not valid JSON.' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    // Routes we know take an object; for other routes a non-object has no model to check.
    if (source === 'none') return { ok: true, model: undefined, json: undefined };
    return { ok: false, reason: 'bad_request', detail: 'The body must be a JSON object.' };
  }
  const object = json as Record<string, unknown>;
  const model = object.model;
  if (model === undefined || model === null) {
    if (source === 'json-required')
      return { ok: false, reason: 'bad_request', detail: 'The "model" field is required.' };
    return { ok: true, model: undefined, json: object };
  }
  if (typeof model !== 'string' || model.length === 0 || model.length > MAX_MODEL_LENGTH) {
    return { ok: false, reason: 'bad_request', detail: 'The "model" field must be a non-empty string.' };
  }
  if (!modelAllowed(record.scopes.models, model)) {
    return { ok: false, reason: 'model_not_allowed', detail: '' };
  }
  return { ok: true, model, json: object };
}

/** Content types whose body is JSON (application/json, application/*+json), parameters ignored. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  const mime = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
}
