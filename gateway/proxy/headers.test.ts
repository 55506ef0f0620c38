import { describe, expect, it } from 'vitest';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';

describe('upstreamRequestHeaders', () => {
  const incoming = {
    host: 'gateway.local',
    authorization: 'Bearer nr_dev_secret',
    'x-api-key': 'nr_dev_secret',
    'api-key': 'nr_dev_secret',
    connection: 'keep-alive, x-hop',
    'x-hop': 'per-connection',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    te: 'trailers',
    upgrade: 'websocket',
    'proxy-authorization': 'Basic abc',
    expect: '100-continue',
    'accept-encoding': 'gzip, br',
    'content-type': 'application/json',
    'content-length': '42',
    'openai-organization': 'org-1',
    'x-request-id': 'r-1',
  };

  it('drops hop-by-hop headers, those named in Connection, framing, and the client credential', () => {
    const out = upstreamRequestHeaders(incoming, { host: 'router:4000' });
    expect(out).toEqual({
      host: 'router:4000',
      'content-type': 'application/json',
      'openai-organization': 'org-1',
      'x-request-id': 'r-1',
      'accept-encoding': 'identity',
    });
  });

  it('sets the router credential', () => {
    const out = upstreamRequestHeaders(incoming, { host: 'router', authorization: 'Bearer router' });
    expect(out.authorization).toBe('Bearer router');
  });

  const forwarding = {
    ...incoming,
    'x-forwarded-for': '6.6.6.6',
    forwarded: 'for=6.6.6.6',
    'x-real-ip': '6.6.6.6',
    'x-forwarded-host': 'evil',
  };
  it.each([
    [
      'an untrusted peer: its forwarding headers are dropped, the peer is the whole chain',
      false,
      { 'x-forwarded-for': '10.0.0.9' },
    ],
    [
      'a trusted proxy: its forwarding headers are kept and the peer appended',
      true,
      {
        'x-forwarded-for': '6.6.6.6, 10.0.0.9',
        forwarded: 'for=6.6.6.6',
        'x-real-ip': '6.6.6.6',
        'x-forwarded-host': 'evil',
      },
    ],
  ])('%s', (_name, peerTrusted, expected) => {
    const out = upstreamRequestHeaders(forwarding, { host: 'router', peer: '10.0.0.9', peerTrusted });
    const seen = Object.fromEntries(
      Object.entries(out).filter(([k]) => ['forwarded', 'x-real-ip'].includes(k) || k.startsWith('x-forwarded')),
    );
    expect(seen).toEqual(expected);
  });
});

describe('downstreamResponseHeaders', () => {
  it('passes end-to-end headers and drops hop-by-hop ones', () => {
    const out = downstreamResponseHeaders({
      'content-type': 'text/event-stream',
      'transfer-encoding': 'chunked',
      connection: 'close, x-internal',
      'x-internal': 'secret-topology',
      'keep-alive': 'timeout=5',
      'x-ratelimit-remaining-requests': '99',
      'set-cookie': ['a=1', 'b=2'],
    });
    expect(out).toEqual({
      'content-type': 'text/event-stream',
      'x-ratelimit-remaining-requests': '99',
      'set-cookie': ['a=1', 'b=2'],
    });
  });
});
