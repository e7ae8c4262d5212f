import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import type { Cleanup } from '../helpers/platform.ts';

/** Debian's chromium; CHROMIUM_PATH overrides. Never a downloaded browser build. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const INSTALL_HINT = 'apt-get update && apt-get install -y chromium';

/**
 * The path of a usable chromium: installed with apt-get when missing and we are root, else an
 * error that names the package and the command.
 */
export function locateChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const root = process.getuid?.() === 0;
  if (root && existsSync('/usr/bin/apt-get') && process.env.CHROMIUM_PATH === undefined) {
    process.stderr.write(`chromium is not installed; running: ${INSTALL_HINT}\n`);
    try {
      execFileSync('sh', ['-c', `${INSTALL_HINT} >/dev/null`], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        timeout: 300_000,
      });
    } catch (error) {
      throw new Error(
        `The dashboard test needs Debian's chromium at ${CHROMIUM}; installing it failed ` +
          `(${INSTALL_HINT}): ${String(error)}`,
      );
    }
    if (existsSync(CHROMIUM)) return CHROMIUM;
  }
  throw new Error(
    `The dashboard test needs Debian's chromium at ${CHROMIUM}: install it with "${INSTALL_HINT}" ` +
      '(or set CHROMIUM_PATH). It never downloads a browser.',
  );
}

/** Launch flags for a headless chromium in a container, quiet on the network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Debian's chromium with a profile of its own, closed and its profile removed after the test —
 * in that order: a profile removed while the browser still writes to it fails the test.
 */
export async function launchChromium(t: Cleanup): Promise<BrowserContext> {
  const executablePath = locateChromium();
  const profile = await mkdtemp(join(tmpdir(), 'herald-chromium-'));
  let browser: BrowserContext | undefined;
  t.after(async () => {
    await browser?.close();
    await rm(profile, { recursive: true, force: true });
  });
  browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1360, height: 900 },
  });
  return browser;
}
