import { Busboy, type BusboyFileStream, type BusboyInstance } from '@fastify/busboy';

// The `model` field of a buffered multipart/form-data body (audio transcriptions, image edits, ...),
// read with a well-kept parser. Bounded: the body is already in memory up to the configured limit,
// fields are small, file parts are skipped. Two different `model` fields are refused: routers disagree
// on which one wins.

export type FormModel = { ok: true; model: string | undefined } | { ok: false; detail: string };

const MAX_FIELD_BYTES = 1024;

export function isMultipart(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.trimStart().toLowerCase().startsWith('multipart/form-data');
}

export function formModel(contentType: string, body: Buffer): Promise<FormModel> {
  return new Promise((resolve) => {
    let parser: BusboyInstance;
    try {
      parser = Busboy({
        headers: { 'content-type': contentType },
        limits: { fieldSize: MAX_FIELD_BYTES, fields: 100, parts: 200 },
      });
    } catch {
      resolve({ ok: false, detail: 'The multipart body could not be parsed.' });
      return;
    }
    const models = new Set<string>();
    let failed: string | undefined;
    parser.on('field', (name: string, value: string, _nameTruncated: boolean, valueTruncated: boolean) => {
      if (name !== 'model') return;
      if (valueTruncated) failed = 'The "model" field is too long.';
      else models.add(value);
    });
    parser.on('file', (name: string, stream: BusboyFileStream) => {
      // a router may still read a "file" part named model as the model: never let it past unread
      if (name === 'model') failed = 'The "model" field must be a plain form field.';
      stream.resume();
    });
    parser.on('partsLimit', () => (failed = 'The multipart body has too many parts.'));
    parser.on('fieldsLimit', () => (failed = 'The multipart body has too many fields.'));
    parser.on('error', () => resolve({ ok: false, detail: 'The multipart body could not be parsed.' }));
    parser.on('finish', () => {
      if (failed !== undefined) resolve({ ok: false, detail: failed });
      else if (models.size > 1) resolve({ ok: false, detail: 'The multipart body names more than one model.' });
      else resolve({ ok: true, model: models.values().next().value });
    });
    parser.end(body);
  });
}
