// Where command output goes and what time it is; parameters so commands are testable in-process.
export interface Io {
  out(text: string): void;
  err(text: string): void;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  now: () => new Date(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export type OutputFormat = 'table' | 'json';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json'];
