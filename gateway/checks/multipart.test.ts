import { describe, expect, it } from 'vitest';
import { formModel, isMultipart } from './multipart.ts';

const BOUNDARY = 'xYzZY';
const CT = `multipart/form-data; boundary=${BOUNDARY}`;
type Part = { name: string; value: string; filename?: string; type?: string };
function form(parts: Part[], end = true): Buffer {
  let s = '';
  for (const p of parts) {
    s += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n`;
    if (p.type) s += `Content-Type: ${p.type}\r\n`;
    s += `\r\n${p.value}\r\n`;
  }
  return Buffer.from(end ? `${s}--${BOUNDARY}--\r\n` : s);
}

describe('formModel', () => {
  it.each<[string, Buffer, unknown]>([
    [
      'file first, then model (what the openai SDK sends)',
      form([
        { name: 'file', value: 'RIFF....', filename: 'a.wav', type: 'audio/wav' },
        { name: 'model', value: 'whisper-1' },
      ]),
      { ok: true, model: 'whisper-1' },
    ],
    [
      'no model field',
      form([
        { name: 'purpose', value: 'batch' },
        { name: 'file', value: '{}', filename: 'b.jsonl' },
      ]),
      { ok: true, model: undefined },
    ],
    [
      'the same model twice',
      form([
        { name: 'model', value: 'm' },
        { name: 'model', value: 'm' },
      ]),
      { ok: true, model: 'm' },
    ],
    [
      'two different models',
      form([
        { name: 'model', value: 'a' },
        { name: 'model', value: 'b' },
      ]),
      { ok: false, detail: 'The multipart body names more than one model.' },
    ],
    [
      'model as a file part',
      form([{ name: 'model', value: 'gpt-4o', filename: 'm.txt' }]),
      { ok: false, detail: 'The "model" field must be a plain form field.' },
    ],
    [
      'model as an octet-stream part',
      form([{ name: 'model', value: 'gpt-4o', type: 'application/octet-stream' }]),
      { ok: false, detail: 'The "model" field must be a plain form field.' },
    ],
    [
      'an over-long model',
      form([{ name: 'model', value: 'm'.repeat(5000) }]),
      { ok: false, detail: 'The "model" field is too long.' },
    ],
    [
      'a form cut short',
      form([{ name: 'model', value: 'm' }], false),
      { ok: false, detail: 'The multipart body could not be parsed.' },
    ],
  ])('%s', async (_name, body, expected) => {
    expect(await formModel(CT, body)).toEqual(expected);
  });

  it('a content type without a boundary is a clear error, not a crash', async () => {
    expect(await formModel('multipart/form-data', form([{ name: 'model', value: 'm' }]))).toEqual({
      ok: false,
      detail: 'The multipart body could not be parsed.',
    });
  });

  it('recognises multipart content types', () => {
    expect(isMultipart(CT)).toBe(true);
    expect(isMultipart(' Multipart/Form-Data; boundary=a')).toBe(true);
    expect(isMultipart('application/json')).toBe(false);
    expect(isMultipart(undefined)).toBe(false);
  });
});
