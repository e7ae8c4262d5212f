import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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
