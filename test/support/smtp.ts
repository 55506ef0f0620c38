// Starts test/support/smtp-server-process.ts as a separate process and collects what it received.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, stopChild } from '../../controlplane/process.ts';

export interface ReceivedMail {
  from?: string;
  to: string[];
  subject?: string;
  messageId?: string;
}

export interface SmtpProcess {
  url: string;
  mails: ReceivedMail[];
  refused: number;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./smtp-server-process.ts', import.meta.url));

export async function startSmtpProcess(opts: { failFirst?: number } = {}): Promise<SmtpProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [SCRIPT, String(port), String(opts.failFirst ?? 0)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const state: SmtpProcess = { url: `smtp://127.0.0.1:${port}`, mails: [], refused: 0, stop: () => stopChild(child) };
  let buffer = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`SMTP server process exited (${code}) before listening`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const msg = JSON.parse(buffer.slice(0, nl)) as ReceivedMail & { listening?: number; refused?: boolean };
        buffer = buffer.slice(nl + 1);
        if (msg.listening) resolve();
        else if (msg.refused) state.refused++;
        else state.mails.push(msg);
      }
    });
  });
  return state;
}
