// `nemokeys dev` checks its fixed ports before it starts the control plane, and says which flag to use.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { assertPortFree } from './dev.ts';

describe('nemokeys dev port check', () => {
  let taken: Server | undefined;
  afterEach(async () => {
    await new Promise((done) => (taken ? taken.close(done) : done(undefined)));
    taken = undefined;
  });

  const occupy = async (): Promise<number> => {
    taken = createServer();
    await new Promise<void>((done) => taken!.listen(0, '127.0.0.1', done));
    return (taken.address() as { port: number }).port;
  };

  it('refuses a port in use, naming the flag that picks another', async () => {
    const port = await occupy();
    await expect(assertPortFree(port, '--metrics-port')).rejects.toThrow(
      `port ${port} on 127.0.0.1 is in use (another nemokeys dev?): pass --metrics-port PORT, or --metrics-port 0 for a free one`,
    );
  });

  it('accepts a free port (and leaves it free) and 0', async () => {
    const port = await occupy();
    await new Promise((done) => taken!.close(done));
    taken = undefined;
    await assertPortFree(port, '--port');
    await assertPortFree(port, '--port');
    await assertPortFree(0, '--port');
  });
});
