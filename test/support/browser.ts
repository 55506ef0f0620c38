// A real browser for page tests: Debian's chromium (installed by .ci/run), driven by playwright-core
// with executablePath — never a downloaded browser. Headless, --no-sandbox (tests run as root), and a
// fresh temporary profile per launch so no cookie or cache leaks between runs.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** Path of the system chromium, or undefined (a local run skips loudly; CI fails, see hasBrowser). */
export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p): p is string => !!p && existsSync(p));
}

/** In CI a missing browser is an error, never a silent skip. */
export function hasBrowser(): boolean {
  if (chromiumPath()) return true;
  if (process.env.CI)
    throw new Error('chromium not found (apt-get install -y chromium, or set CHROMIUM_PATH); CI never skips');
  console.warn(
    '!!! WARNING: chromium not found: the keys page browser tests are SKIPPED (apt-get install -y chromium)',
  );
  return false;
}

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'nemokeys-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    viewport: { width: 1500, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
