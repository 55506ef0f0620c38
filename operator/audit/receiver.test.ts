// The receiver's HTTP contract with kube-apiserver's webhook backend: 200 only once the batch is recorded,
// 500 (retried by kube-apiserver) when recording failed, 400 (not retried) for a body that never parses,
// 401 without the bearer token. The recorder is a stand-in here; test/audit-trail.test.ts runs the real one.
import { connect } from 'node:net';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditedChange } from './event.ts';
import type { Recorder } from './recorder.ts';
import { startAuditReceiver, type Receiver } from './receiver.ts';

const event = {
  auditID: 'a1',
  stage: 'ResponseComplete',
  verb: 'create',
  user: { username: 'alice' },
  sourceIPs: ['10.1.2.3'],
  objectRef: { apiGroup: 'keys.nemorouter.io', resource: 'apikeys', namespace: 'ns', name: 'k' },
  responseStatus: { code: 201 },
  requestReceivedTimestamp: '2026-11-27T21:00:00.000001Z',
};

describe('audit receiver', () => {
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await receiver?.close();
  });

  const start = async (record: (c: AuditedChange[]) => Promise<number>, token?: string) => {
    const recorder: Recorder = {
      recordChanges: record,
      recordOperatorAction: async () => {},
      recordIssuedKey: async () => {},
      emit: () => {},
    };
    receiver = await startAuditReceiver({
      host: '127.0.0.1',
      port: 0,
      recorder,
      log: pino({ level: 'silent' }),
      registry: new Registry(),
      ...(token ? { token } : {}),
    });
    return (body: unknown, auth?: string) =>
      fetch(`http://127.0.0.1:${receiver!.port}/audit`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      });
  };

  it('records the changes of a batch, then answers 200', async () => {
    const got: AuditedChange[][] = [];
    const post = await start(async (c) => {
      got.push(c);
      return c.length;
    });
    const res = await post({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [event] });
    expect(res.status).toBe(200);
    expect(got).toEqual([
      [expect.objectContaining({ auditId: 'a1', sourceIp: '10.1.2.3', actor: { username: 'alice', groups: [] } })],
    ]);
  });

  it('answers 500 when recording failed, so kube-apiserver re-sends the batch', async () => {
    const post = await start(async () => {
      throw new Error('409 conflict ten times');
    });
    expect((await post({ kind: 'EventList', items: [event] })).status).toBe(500);
  });

  it('answers 400 to a body that is not an EventList (re-sending would not help)', async () => {
    const post = await start(async () => 0);
    const res = await post({ kind: 'Nope' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/EventList/);
  });

  it('with a token: 401 without it or with a wrong one', async () => {
    const post = await start(async (c) => c.length, 's3cret');
    expect((await post({ kind: 'EventList', items: [] })).status).toBe(401);
    expect((await post({ kind: 'EventList', items: [] }, 'Bearer nope')).status).toBe(401);
    expect((await post({ kind: 'EventList', items: [] }, 'Bearer s3cret')).status).toBe(200);
  });

  it('close() does not wait for a connection kube-apiserver keeps open mid-request (Ctrl-C in nemokeys dev)', async () => {
    let received = 0;
    await start(async (c) => {
      received += c.length;
      return c.length;
    });
    const socket = connect(receiver!.port, '127.0.0.1');
    socket.on('error', () => {}); // the reset is the point
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    await new Promise((done) => socket.once('connect', done));
    socket.write('POST /audit HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
    await receiver!.close(); // without forceCloseConnections this never resolves: the test times out
    receiver = undefined;
    await closed; // the server ended the half-sent request's connection
    expect(received).toBe(0);
  });
});
