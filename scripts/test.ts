/**
 * `npm test`'s test step: makes sure the services the tests need are up (starting a stopped
 * local PostgreSQL or Redis, and the project's Kafka), starts the embedded PostgreSQL the
 * tests of the embedded default share, then runs every test file with node:test. A service
 * that cannot be started fails the run with a message naming it; nothing is skipped silently.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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

/**
 * One PostgreSQL for the whole run, run by Herald's own manager exactly as `herald start` runs
 * its own (memory://: a fresh temporary directory, removed at the stop), each test in a schema
 * of its own. The tests of the manager itself (the CLI lifecycle tests) run their own clusters.
 * Like every memory:// cluster it skips the fsyncs (it keeps nothing).
 */
async function startEmbeddedPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  const [{ openEmbeddedPostgres }, { createLogger }] = await Promise.all([
    import('../src/adapters/postgres/embedded.ts'),
    import('../src/observability/logger.ts'),
  ]);
  const db = await openEmbeddedPostgres({
    dataDir: 'memory://',
    schema: 'public',
    poolSize: 1,
    applicationName: 'herald-test-run',
    user: process.env.EMBEDDED_DATABASE_USER ?? 'postgres',
    logger: createLogger('warn'),
    settings: {
      // Two test files at a time, each with pools, listeners and child Heralds of its own.
      max_connections: '400',
    },
  });
  return { url: db.url, stop: () => db.close() };
}

await ensurePostgres();
await ensureRedis();
ensureKafka();
let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
try {
  embedded = await startEmbeddedPostgres();
} catch (error) {
  process.stderr.write(
    `The embedded PostgreSQL is needed by the tests and could not be started: ${(error as Error).message}\n`,
  );
  process.exit(1);
}

const files = process.argv.slice(2);
// Not spawnSync: the run must outlive its tests to stop the cluster, also on Ctrl-C.
const child = spawn(
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
  { stdio: 'inherit', env: { ...process.env, TEST_EMBEDDED_DATABASE_URL: embedded.url } },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => child.kill(signal));
}
const status = await new Promise<number>((resolve) => {
  child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
});
await embedded.stop();
process.exit(status);
