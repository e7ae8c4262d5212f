/**
 * `npm test`'s test step: makes sure the services the tests need are up (starting a stopped
 * local PostgreSQL), then runs every test file with node:test. A service that cannot be
 * started fails the run with a message naming it; nothing is skipped silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';

function reachable(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function waitFor(port: number, seconds: number): Promise<boolean> {
  for (let i = 0; i < seconds * 4; i++) {
    if (await reachable(port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

async function ensurePostgres(): Promise<void> {
  if (process.env.TEST_DATABASE_URL !== undefined || (await reachable(5432))) return;
  process.stderr.write('PostgreSQL is not running on 127.0.0.1:5432; starting it\n');
  try {
    const versions = readdirSync('/etc/postgresql');
    for (const version of versions) {
      execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
        stdio: 'inherit',
      });
    }
  } catch (error) {
    throw new Error(`PostgreSQL is needed by the tests and could not be started: ${String(error)}`);
  }
  if (!(await waitFor(5432, 30))) {
    throw new Error('PostgreSQL is needed by the tests and did not come up on 127.0.0.1:5432');
  }
}

await ensurePostgres();

const files = process.argv.slice(2);
const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=2',
    '--test-timeout=120000',
    ...(files.length > 0 ? files : ['test/**/*.test.ts']),
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
