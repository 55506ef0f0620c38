// A real SMTP server process for tests (the `smtp-server` package): listens on 127.0.0.1:PORT and
// prints one JSON line per accepted message — envelope sender and recipients, Subject and Message-ID.
// Argument 2: how many messages to refuse first (451, a temporary failure) to exercise retries.
// Run: node test/support/smtp-server-process.ts PORT [FAIL_FIRST]
import { SMTPServer } from 'smtp-server';

const port = Number(process.argv[2]);
let refuse = Number(process.argv[3] ?? 0);

function header(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (refuse > 0) {
        refuse--;
        process.stdout.write(`${JSON.stringify({ refused: true })}\n`);
        const err = Object.assign(new Error('try again later'), { responseCode: 451 });
        callback(err);
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      process.stdout.write(
        `${JSON.stringify({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address).sort(),
          subject: header(raw, 'Subject'),
          messageId: header(raw, 'Message-ID'),
        })}\n`,
      );
      callback();
    });
  },
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ listening: port })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
