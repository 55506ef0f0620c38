import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

// Test scaffolding (excluded from the image): a real pino logger whose lines a test can read back, to
// check what the gateway logged — and that no key ever reaches a log line.

export function capturedLogger(level = 'debug'): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level }, stream), text: () => lines.join('') };
}
