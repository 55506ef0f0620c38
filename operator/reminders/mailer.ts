// Sends mail over SMTP with nodemailer (docs/design.md §8). The URL carries host and port only;
// credentials come from the environment (a Secret), never from the command line, where `ps` shows them.
import nodemailer, { type Transporter } from 'nodemailer';
import type { ReminderMessage } from './message.ts';
import { parseSmtpUrl } from './smtp-url.ts';

export interface MailerOptions {
  /** smtp://HOST:PORT (STARTTLS when offered) or smtps://HOST:PORT (TLS from the start). */
  url: string;
  from: string;
  /** From $NEMOKEYS_SMTP_USERNAME / $NEMOKEYS_SMTP_PASSWORD. */
  username?: string;
  password?: string;
}

export interface Mailer {
  send(to: readonly string[], message: ReminderMessage): Promise<void>;
  close(): void;
}

export function createMailer(opts: MailerOptions): Mailer {
  const { host, port, secure } = parseSmtpUrl(opts.url);
  const transport: Transporter = nodemailer.createTransport({
    host,
    port,
    secure,
    ...(opts.username ? { auth: { user: opts.username, pass: opts.password ?? '' } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(to, message) {
      await transport.sendMail({
        from: opts.from,
        to: [...to],
        subject: message.subject,
        text: message.text,
        messageId: message.messageId,
      });
    },
    close: () => transport.close(),
  };
}
