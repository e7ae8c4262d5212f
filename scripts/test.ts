/**
 * `npm test`'s test step: makes sure the services the tests need are up (starting a stopped
 * local PostgreSQL or Redis, and the project's Kafka), then runs every test file with node:test. A service that cannot be
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

async function ensureRedis(): Promise<void> {
  if (process.env.TEST_REDIS_URL !== undefined || (await reachable(6379))) return;
  process.stderr.write('Redis is not running on 127.0.0.1:6379; starting it\n');
  try {
    execFileSync(
      'redis-server',
      ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', ''],
      { stdio: 'inherit' },
    );
  } catch (error) {
    throw new Error(`Redis is needed by the tests and could not be started: ${String(error)}`);
  }
  if (!(await waitFor(6379, 30))) {
    throw new Error('Redis is needed by the tests and did not come up on 127.0.0.1:6379');
  }
}

/** The project's own single-node Kafka (scripts/kafka.sh); the first start fetches its jars. */
function ensureKafka(): void {
  if (process.env.TEST_KAFKA_BROKERS !== undefined) return;
  const script = new URL('./kafka.sh', import.meta.url).pathname;
  const started = spawnSync('bash', [script, 'start'], { stdio: 'inherit', timeout: 900_000 });
  if (started.status !== 0) {
    throw new Error(
      'Kafka is needed by the tests and `scripts/kafka.sh start` failed (see the lines above)',
    );
  }
}

await ensurePostgres();
await ensureRedis();
ensureKafka();

const files = process.argv.slice(2);
const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=2',
    '--test-timeout=120000',
    // A test file whose tests all finished must not hang the run on a leaked handle.
    '--test-force-exit',
    `--import=${new URL('../test/helpers/check-responses.ts', import.meta.url)}`, // answers vs OpenAPI
    ...(files.length > 0 ? files : ['test/**/*.test.ts']),
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
