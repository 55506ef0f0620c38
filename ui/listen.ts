// `--listen HOST:PORT` → where the keys page listens. Loopback by default (docs/design.md §11): the
// server acts with the user's credentials, so anything else is the user's explicit choice.
import { CliError } from '../cli/keys/errors.ts';
import { isLoopback } from './security.ts';

export interface ListenAddress {
  host: string;
  port: number;
  loopback: boolean;
}

export const DEFAULT_LISTEN = '127.0.0.1:0';

/** "127.0.0.1:8080", "localhost:0", "[::1]:9000", or a bare port "8080" (on 127.0.0.1). */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new CliError(`--listen ${text}: expected HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free port)`);
  }
  const host = m[1] || m[2] || '127.0.0.1';
  return { host, port, loopback: isLoopback(host) };
}
