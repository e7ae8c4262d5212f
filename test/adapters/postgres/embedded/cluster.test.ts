import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { findPostgresBinaries } from '../../../../src/adapters/postgres/embedded/binaries.ts';
import {
  type ClusterOptions,
  initCluster,
  startCluster,
} from '../../../../src/adapters/postgres/embedded/cluster.ts';
import { isAlive } from '../../../../src/adapters/postgres/embedded/processes.ts';
import { resolveRunAs } from '../../../../src/adapters/postgres/embedded/run-as.ts';
import { serverSettings } from '../../../../src/adapters/postgres/embedded/server-settings.ts';

async function options(t: { after(fn: () => unknown): unknown }): Promise<ClusterOptions> {
  const base = await mkdtemp(join(tmpdir(), 'herald-cluster-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  await chmod(base, 0o755);
  const dir = join(base, 'postgres');
  return {
    binaries: await findPostgresBinaries(),
    dir,
    logFile: join(base, 'postgres.log'),
    socketDir: dir,
    runAs: resolveRunAs(process.env.EMBEDDED_DATABASE_USER ?? 'postgres'),
    settings: serverSettings({ poolSize: 10, durable: true }),
    durable: true,
  };
}

test('a cluster made over the leftovers of an initdb that was killed, started durable and private', async (t) => {
  const cluster = await options(t);
  // What a Herald killed during initdb leaves: a staging directory, never DATA_DIR/postgres.
  await mkdir(`${cluster.dir}.initdb`);
  await writeFile(join(`${cluster.dir}.initdb`, 'PG_VERSION'), '17\n');
  await initCluster(cluster);
  assert.ok(existsSync(join(cluster.dir, 'PG_VERSION')));
  assert.equal(existsSync(`${cluster.dir}.initdb`), false);

  process.env.HERALD_CLUSTER_TEST_SECRET = 'not-for-postgres';
  t.after(() => {
    delete process.env.HERALD_CLUSTER_TEST_SECRET;
  });
  const server = await startCluster(cluster);
  t.after(() => server.stop());
  const client = new pg.Client({ connectionString: server.url('postgres') });
  await client.connect();
  const show = async (name: string) =>
    (await client.query(`SELECT current_setting($1) AS v`, [name])).rows[0].v as string;
  try {
    assert.equal(await show('fsync'), 'on');
    assert.equal(await show('synchronous_commit'), 'on');
    assert.equal(await show('listen_addresses'), '', 'no TCP');
    assert.equal(await show('unix_socket_permissions'), '0700');
    assert.equal(await show('TimeZone'), 'UTC');
    assert.equal(await show('server_encoding'), 'UTF8');
    assert.equal(await show('max_connections'), '100');
    assert.equal((await client.query('SELECT upper($1) AS u', ['é'])).rows[0].u, 'É', 'C.UTF-8');
  } finally {
    await client.end();
  }
  const environ = readFileSync(`/proc/${server.pid}/environ`, 'utf8');
  assert.equal(
    environ.includes('HERALD_CLUSTER_TEST_SECRET'),
    false,
    "Herald's environment stays with Herald",
  );
  assert.match(
    readFileSync(cluster.logFile, 'utf8'),
    /database system is ready to accept connections/,
  );

  await server.stop();
  assert.equal(isAlive(server.pid), false);
  assert.equal(await server.exited, 'exit 0', 'a clean fast shutdown');
});

test('binaries that cannot run here (no glibc, say) fail the start with what to do instead', async (t) => {
  const cluster = await options(t);
  const broken = {
    ...cluster,
    binaries: { ...cluster.binaries, initdb: join(cluster.dir, 'x', 'initdb') },
  };
  await assert.rejects(initCluster(broken), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'HERALD_CONFIG_INVALID');
    assert.match(
      error.message,
      /the embedded PostgreSQL cannot run here: .*initdb: spawn .* ENOENT/,
    );
    assert.match(error.message, /set DATABASE_URL/);
    return true;
  });
});
