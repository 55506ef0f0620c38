import type { IncomingMessage } from 'node:http';
import type { KeyRecord } from '../../api/record.ts';
import { checkModel } from '../checks/model.ts';
import { formModel, isMultipart } from '../checks/multipart.ts';
import { allModelsAllowed, modelAllowed, type ModelSource } from '../checks/scopes.ts';
import type { DenialReason } from '../errors.ts';
import { readBoundedBody } from './body.ts';
import type { Framing } from './framing.ts';

// Step 5 of docs/design.md §4 for the body: which bodies the gateway reads before forwarding, and the
// model they name. A key allowed every model has only its JSON model routes read (for the model
// label, the stream usage request and the reservation); everything else streams through. A key
// limited to some models has EVERY body read, bounded, whatever the route or declared content type:
// multipart forms by their `model` field, anything else as JSON. A body the gateway cannot read
// cannot be checked, so it is refused.

export interface BodyLimits {
  maxJsonBytes: number;
  maxMultipartBytes: number;
}

export type Inspection =
  | { ok: true; body: Buffer | undefined; json: Record<string, unknown> | undefined; model: string | undefined }
  | { ok: false; reason: DenialReason; detail?: string };

const STREAM_THROUGH: Inspection = Object.freeze({ ok: true, body: undefined, json: undefined, model: undefined });
const UNREADABLE =
  'A key limited to some models must send JSON or multipart/form-data bodies, so the gateway can check the model.';

/** Whether inspectBody has anything to read (the common streamed case stays synchronous). */
export function mustInspect(
  record: KeyRecord,
  source: ModelSource,
  pathModel: string | undefined,
  framing: Framing,
): boolean {
  if (source === 'json-required' || source === 'json-optional' || pathModel !== undefined) return true;
  return framing.kind !== 'none' && !allModelsAllowed(record.scopes.models);
}

export async function inspectBody(
  req: IncomingMessage,
  record: KeyRecord,
  source: ModelSource,
  pathModel: string | undefined,
  framing: Framing,
  limits: BodyLimits,
): Promise<Inspection> {
  const scoped = !allModelsAllowed(record.scopes.models);
  const hasBody = framing.kind !== 'none';
  const contentType = req.headers['content-type'];
  if (scoped && hasBody && isMultipart(contentType)) {
    const read = await readBoundedBody(req, limits.maxMultipartBytes);
    if (!read.ok) return read;
    const form = await formModel(contentType!, read.body);
    if (!form.ok) return { ok: false, reason: 'bad_request', detail: form.detail };
    if (form.model === undefined && source === 'multipart' && pathModel === undefined) {
      return { ok: false, reason: 'bad_request', detail: 'The "model" field is required.' };
    }
    if (form.model !== undefined && !modelAllowed(record.scopes.models, form.model))
      return { ok: false, reason: 'model_not_allowed' };
    return { ok: true, body: read.body, json: undefined, model: form.model ?? pathModel };
  }
  const jsonRoute = source === 'json-required' || source === 'json-optional';
  if (!jsonRoute && !(scoped && hasBody)) {
    return pathModel === undefined ? STREAM_THROUGH : { ok: true, body: undefined, json: undefined, model: pathModel };
  }
  const read = await readBoundedBody(req, limits.maxJsonBytes);
  if (!read.ok) return read;
  const checked = checkModel(record, source, read.body);
  if (!checked.ok) {
    // on a route without a model rule, say why the body had to be readable at all
    return jsonRoute || checked.reason !== 'bad_request'
      ? checked
      : { ok: false, reason: 'bad_request', detail: UNREADABLE };
  }
  return { ok: true, body: read.body, json: checked.json, model: checked.model ?? pathModel };
}
