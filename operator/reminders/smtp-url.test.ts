import { describe, expect, it } from 'vitest';
import { checkMailFrom, parseSmtpUrl } from './smtp-url.ts';

describe('--smtp-url', () => {
  it.each([
    ['smtp://mail.example.com:587', { host: 'mail.example.com', port: 587, secure: false }],
    ['smtp://127.0.0.1', { host: '127.0.0.1', port: 25, secure: false }],
    ['smtps://mail.example.com', { host: 'mail.example.com', port: 465, secure: true }],
    ['smtp://[::1]:2525', { host: '::1', port: 2525, secure: false }],
  ])('%s', (url, want) => expect(parseSmtpUrl(url)).toEqual(want));

  it.each([
    ['smtp://user:secret@mail.example.com', /must not contain credentials.*NEMOKEYS_SMTP_USERNAME/],
    ['http://mail.example.com', /smtp:\/\/ or smtps:\/\//],
    ['mail.example.com:25', /smtp:\/\/ or smtps:\/\//],
    ['not a url', /must look like smtp:\/\/HOST:PORT/],
  ])('refuses %s with what to fix', (url, msg) => expect(() => parseSmtpUrl(url)).toThrow(msg));

  it('--mail-from is one plain address', () => {
    expect(checkMailFrom('keys@example.com')).toBe('keys@example.com');
    expect(() => checkMailFrom('Keys <keys@example.com>')).toThrow(/--mail-from/);
  });
});
