import type { IncomingMessage } from 'node:http';

// Buffers a request body up to a bound, for the routes whose `model` must be read before the
// request may go on. A declared Content-Length over the bound is refused before reading a byte.

export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: 'body_too_large' | 'bad_request' };

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Audio and image uploads (OpenAI takes audio files up to 25 MB). */
export const DEFAULT_MAX_MULTIPART_BYTES = 32 * 1024 * 1024;

export function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    if (!Number.isSafeInteger(n) || n < 0) return Promise.resolve({ ok: false, reason: 'bad_request' });
    if (n > maxBytes) return Promise.resolve({ ok: false, reason: 'body_too_large' });
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    // we cannot read a compressed model without inflating attacker-sized data: refuse plainly
    return Promise.resolve({ ok: false, reason: 'bad_request' });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      if (!r.ok) req.pause(); // stop pulling an oversized or broken body
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish({ ok: false, reason: 'body_too_large' });
      else chunks.push(chunk);
    };
    const onEnd = () => finish({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    const onError = () => finish({ ok: false, reason: 'bad_request' });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}
