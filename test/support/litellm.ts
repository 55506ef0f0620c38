import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../controlplane/process.ts';

// A real router for gateway tests: the LiteLLM proxy from PyPI, offline, with `mock_response` models.
// It runs from a Python venv that `.ci/run` creates (this helper installs nothing); locally a missing
// venv is a loud skip, in CI a failure. One LiteLLM per test file: it takes seconds to start.
// Every completion/embedding LiteLLM serves is appended to a JSON-lines file by a LiteLLM callback
// (nemokeys_calls.py below), so a test can count exactly what the router did — no database needed.

/** Pinned: `.ci/run` reads this line to build the venv (keyed by version under ~/.cache/nemokeys). */
export const LITELLM_VERSION = '1.80.5';

export function litellmVenv(): string {
  return process.env.NEMOKEYS_LITELLM_VENV ?? join(homedir(), '.cache', 'nemokeys', `litellm-venv-${LITELLM_VERSION}`);
}

function litellmBin(): string | undefined {
  const bin = join(litellmVenv(), 'bin', 'litellm');
  try {
    accessSync(bin, constants.X_OK);
    // .ci/run writes this once pip finished: a venv whose install was cut short does not count
    accessSync(join(litellmVenv(), '.installed'));
    return bin;
  } catch {
    return undefined;
  }
}

/** True when LiteLLM tests can run; warns loudly or throws (CI) otherwise. */
export function requireLitellm(): boolean {
  if (litellmBin() !== undefined) return true;
  const msg =
    `no LiteLLM venv at ${litellmVenv()} (create it: python3 -m venv DIR && ` +
    `DIR/bin/pip install 'litellm[proxy]==${LITELLM_VERSION}' && touch DIR/.installed; .ci/run does this)`;
  if (process.env.CI) throw new Error(`${msg}; CI is set, so this is fatal`);
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!!! WARNING: ${msg}.\n!!! THE REAL-ROUTER (LITELLM) GATEWAY TESTS ARE SKIPPED.\n${bar}\n`);
  return false;
}

/** A call LiteLLM served, as its success callback saw it. */
export interface RouterCall {
  /** The model group the client named (`gpt-4o`), from LiteLLM's own logging object. */
  model: string;
  callType: string;
  stream: boolean;
  totalTokens: number | null;
}

export interface Litellm {
  url: string;
  /** The proxy's master key: the router credential the gateway sends (NEMOKEYS_UPSTREAM_API_KEY). */
  masterKey: string;
  /** Every call LiteLLM served so far, in order. */
  calls(): RouterCall[];
  /** ms from spawn to the first healthy answer. */
  startMs: number;
  stop(): Promise<void>;
}

export const MOCK_REPLY = { 'gpt-4o-mini': 'Hello from the mini model.', 'gpt-4o': 'Hello from the big model.' };
export const EMBEDDING_MODEL = 'text-embedding-3-small';

function config(): string {
  const chat = Object.entries(MOCK_REPLY).map(
    ([name, reply]) =>
      `  - model_name: ${name}\n    litellm_params:\n      model: openai/${name}\n      api_key: mock-no-network\n` +
      `      mock_response: ${JSON.stringify(reply)}\n`,
  );
  const embedding =
    `  - model_name: ${EMBEDDING_MODEL}\n    litellm_params:\n      model: openai/${EMBEDDING_MODEL}\n` +
    `      api_key: mock-no-network\n      mock_response: [0.25, -0.5, 0.75]\n`;
  return (
    `model_list:\n${chat.join('')}${embedding}` +
    'litellm_settings:\n  callbacks: nemokeys_calls.recorder\n  telemetry: false\n' +
    'general_settings:\n  master_key: os.environ/NEMOKEYS_TEST_LITELLM_MASTER_KEY\n'
  );
}

// LiteLLM imports `callbacks: module.instance` from the config file's directory.
const CALLBACK = `import json, os
from litellm.integrations.custom_logger import CustomLogger

class Recorder(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        usage = getattr(response_obj, "usage", None)
        total = getattr(usage, "total_tokens", None) if usage is not None else None
        group = (kwargs.get("litellm_params") or {}).get("metadata", {}).get("model_group")
        line = {"model": group or kwargs.get("model"), "callType": kwargs.get("call_type"),
                "stream": bool(kwargs.get("stream")), "totalTokens": total}
        with open(os.environ["NEMOKEYS_TEST_LITELLM_CALLS"], "a") as f:
            f.write(json.dumps(line) + "\\n")

recorder = Recorder()
`;

export async function startLitellm(): Promise<Litellm> {
  const bin = litellmBin();
  if (bin === undefined) throw new Error(`LiteLLM not installed in ${litellmVenv()}`);
  const dir = mkdtempSync(join(tmpdir(), 'nemokeys-litellm-'));
  writeFileSync(join(dir, 'config.yaml'), config());
  writeFileSync(join(dir, 'nemokeys_calls.py'), CALLBACK);
  const callsFile = join(dir, 'calls.jsonl');
  writeFileSync(callsFile, '');
  const masterKey = `sk-router-master-${process.pid}-${Date.now()}`;
  const port = await freePort();
  const startedAt = Date.now();
  const child: ChildProcess = spawn(
    bin,
    ['--config', join(dir, 'config.yaml'), '--host', '127.0.0.1', '--port', String(port)],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: `${join(litellmVenv(), 'bin')}:${process.env.PATH ?? ''}`,
        HOME: dir,
        // offline: the bundled model cost map instead of a download at start; no telemetry
        LITELLM_LOCAL_MODEL_COST_MAP: 'True',
        LITELLM_TELEMETRY: 'False',
        DISABLE_SCHEMA_UPDATE: 'True',
        NEMOKEYS_TEST_LITELLM_MASTER_KEY: masterKey,
        NEMOKEYS_TEST_LITELLM_CALLS: callsFile,
        PYTHONUNBUFFERED: '1',
      },
    },
  );
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const hard = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(hard);
        done();
      });
      child.kill('SIGTERM');
    });
  for (let i = 0; i < 1200 && child.exitCode === null; i++) {
    try {
      const res = await fetch(`${url}/health/liveliness`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) {
        const startMs = Date.now() - startedAt;
        const calls = () =>
          readFileSync(callsFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as RouterCall);
        return { url, masterKey, calls, startMs, stop };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`LiteLLM did not become healthy on ${url}; its output:\n${output}`);
}
