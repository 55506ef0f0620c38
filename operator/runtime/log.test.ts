import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { generateKey } from '../../api/keyformat.ts';
import { createAudit, createLogger, REDACTED } from './log.ts';

function sink() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes JSON with a level label and scrubs key-shaped strings from message, fields and errors', () => {
    const { key } = generateKey({ environment: 'prod' });
    const { lines, destination } = sink();
    const log = createLogger({ level: 'info', destination });
    log.info(`message with ${key}`);
    log.warn({ nested: { list: [key] }, err: new Error(`boom ${key}`) }, 'fields');
    log.debug('not at info level');
    expect(lines).toHaveLength(2);
    const text = lines.join('');
    expect(text).not.toContain(key);
    const [first, second] = lines.map((l) => JSON.parse(l));
    expect(first).toMatchObject({ level: 'info', msg: `message with ${REDACTED}` });
    expect(second.nested.list).toEqual([REDACTED]);
    expect(second.err.message).toBe(`boom ${REDACTED}`);
  });
});

describe('createAudit', () => {
  it('writes one audit line per action with stream=audit and identifiers only', () => {
    const generated = generateKey({ environment: 'dev' });
    const { lines, destination } = sink();
    const audit = createAudit({ destination });
    audit({
      action: 'rotate',
      apiKey: 'team-a/chat',
      keyId: generated.keyId,
      actor: 'operator',
      reason: 'rotation.before reached',
    });
    // A caller mistake (the whole key where an id belongs) must not leak the key.
    audit({
      action: 'revoke',
      apiKey: 'team-a/chat',
      keyId: generated.key,
      actor: 'user:alice',
      reason: `oops ${generated.key}`,
    });
    expect(lines).toHaveLength(2);
    expect(lines.join('')).not.toContain(generated.key);
    const [a, b] = lines.map((l) => JSON.parse(l));
    expect(a).toMatchObject({
      stream: 'audit',
      action: 'rotate',
      apiKey: 'team-a/chat',
      keyId: generated.keyId,
      actor: 'operator',
      reason: 'rotation.before reached',
    });
    expect(b).toMatchObject({
      stream: 'audit',
      action: 'revoke',
      keyId: '[invalid-key-id]',
      reason: `oops ${REDACTED}`,
    });
  });
});
