// The slice of pino's Logger the sources and the reporter use, so tests can pass a recorder and
// production passes the app's pino logger unchanged.
export interface SourceLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: SourceLogger = { info() {}, warn() {}, error() {} };

/** An error's message only: stack traces and response bodies stay out of the logs. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
