// --smtp-url, checked without loading the mail library (the CLI validates flags before starting).

/** Pure: checks the URL; an error says what to fix. */
export function parseSmtpUrl(url: string): { host: string; port: number; secure: boolean } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--smtp-url must look like smtp://HOST:PORT, got "${url}"`);
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:')
    throw new Error(`--smtp-url must start with smtp:// or smtps://, got "${u.protocol}//"`);
  if (u.username || u.password) {
    throw new Error(
      '--smtp-url must not contain credentials (they would show in the process list): ' +
        'set NEMOKEYS_SMTP_USERNAME and NEMOKEYS_SMTP_PASSWORD (e.g. from a Secret) instead',
    );
  }
  if (!u.hostname) throw new Error(`--smtp-url has no host: "${url}"`);
  const secure = u.protocol === 'smtps:';
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : secure ? 465 : 25, secure };
}

/** --mail-from: one plain address, the envelope sender and From header. */
export function checkMailFrom(from: string): string {
  if (!/^[^\s@<>"]+@[^\s@<>"]+$/.test(from))
    throw new Error(`--mail-from must be an email address like nemokeys@example.com, got "${from}"`);
  return from;
}
