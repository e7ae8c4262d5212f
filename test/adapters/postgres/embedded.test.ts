/**
 * The embedded default through the real CLI: `herald start` without DATABASE_URL runs a
 * PostgreSQL of its own in DATA_DIR. Each test manages its own cluster (the suite's shared one,
 * TEST_EMBEDDED_DATABASE_URL, is not used here).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrate } from '../../../src/adapters/postgres/migrate.ts';
import { PostgresEventStore } from '../../../src/adapters/store/postgres/event-store.ts';
import { partitionFor } from '../../../src/domain/partitioning.ts';
import { eventually } from '../../helpers/eventually.ts';
import { type HeraldProcess, runHerald } from '../../helpers/herald-process.ts';
import { openPreviousPglite } from '../../helpers/pglite-previous.ts';
import { getJson, postJson, SEED_EXAMPLES } from '../../helpers/platform.ts';

async function dataDirFor(t: { after(fn: () => unknown): unknown }): Promise<string> {
  // Under a directory any user can pass through: as root, the cluster runs as `postgres`.
  const base = await mkdtemp(join(tmpdir(), 'herald-embedded-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const { chmod } = await import('node:fs/promises');
  await chmod(base, 0o755);
  return join(base, 'data');
}

/** The pids of the postgres servers (postmasters) running on `clusterDir`. */
function postmastersOn(clusterDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('/postgres') && args[1] === '-D' && args[2] === clusterDir) {
        pids.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  // A backend forked a moment ago still carries the postmaster's command line: not a server.
  const parentOf = (pid: number) =>
    Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
  return pids.filter((pid) => {
    try {
      return !pids.includes(parentOf(pid));
    } catch {
      return false;
    }
  });
}

function logged(
  herald: HeraldProcess,
  message: string | RegExp,
): Record<string, unknown> | undefined {
  return herald.logs.find((l) =>
    typeof message === 'string' ? l.msg === message : message.test(String(l.msg)),
  );
}

async function postAndWaitProcessed(url: string): Promise<string[]> {
  const ids: string[] = [];
  for (const example of SEED_EXAMPLES) {
    const response = await postJson(url + example.path, example.body);
    assert.equal(response.status, 202, `${example.path}: ${JSON.stringify(response.body)}`);
    ids.push(response.body.event_id as string);
  }
  for (const id of ids) {
    await eventually(
      async () =>
        (await getJson(`${url}/api/v1/events/${id}`)).body.status === 'processed'
          ? true
          : undefined,
      { message: `${id} processed` },
    );
  }
  return ids;
}

test('the first start creates the cluster in DATA_DIR and says where everything is; a restart keeps the data', async (t) => {
  const dataDir = await dataDirFor(t);
  const cluster = join(dataDir, 'postgres');
  const first = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const url = await first.url;
  const created = logged(first, 'embedded PostgreSQL created and started');
  assert.ok(created, 'the first start runs initdb');
  assert.equal(created.cluster, cluster);
  assert.equal(created.log, join(dataDir, 'postgres.log'));
  const ready = logged(first, /^herald ready/);
  assert.ok(ready, 'a ready line');
  assert.equal(ready.api, url);
  assert.equal(ready.docs, `${url}/docs`);
  assert.equal(ready.dashboard, `${url}/dashboard/`);
  assert.match(String(ready.data), new RegExp(dataDir));
  const starting = logged(first, 'herald starting');
  // runHerald sets these away from their defaults, and LOG_LEVEL to its default (info).
  assert.deepEqual(
    Object.keys(starting?.settings as object).sort(),
    ['DATA_DIR', 'OPS_PORT', 'OVERLOAD_EVENT_LOOP_DELAY_MS', 'PORT', 'READ_PORT'],
    'only what is not default',
  );
  assert.ok(existsSync(join(cluster, 'PG_VERSION')));
  assert.deepEqual(postmastersOn(cluster).length, 1, 'one server runs on the cluster');
  const ids = await postAndWaitProcessed(url);
  assert.equal(await first.stop('SIGTERM'), 0, 'a graceful stop exits 0');
  assert.deepEqual(postmastersOn(cluster), [], 'the server stops with Herald');
  assert.equal(existsSync(join(dataDir, 'herald.lock')), false, 'the lock is released');

  const second = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const again = await second.url;
  assert.ok(logged(second, 'embedded PostgreSQL started'), 'no second initdb');
  for (const id of ids) {
    const { body } = await getJson(`${again}/api/v1/events/${id}`);
    assert.equal(body.status, 'processed', id);
  }
  assert.equal(await second.stop('SIGINT'), 0);
  assert.deepEqual(postmastersOn(cluster), []);
});

test('after a SIGKILL of Herald the next start stops the orphaned server and loses no acknowledged event', async (t) => {
  const dataDir = await dataDirFor(t);
  const cluster = join(dataDir, 'postgres');
  // The killed worker's partition leases run out before the next one takes them over.
  const env = { DATA_DIR: dataDir, WORKER_LEASE_MS: '1000' };
  const first = runHerald(t, ['start'], env);
  const url = await first.url;
  const acknowledged: string[] = [];
  for (let i = 0; i < 10; i++) {
    const events = Array.from({ length: 50 }, (_, j) => ({
      id: `kill-${i}-${j}`,
      event_type: 'click',
      user_id: `u${j % 7}`,
    }));
    const response = await postJson(`${url}/api/v1/events/batch`, events);
    assert.equal(response.status, 202);
    for (const r of response.body.results as { event_id: string }[]) acknowledged.push(r.event_id);
  }
  const [orphan] = postmastersOn(cluster);
  assert.ok(orphan !== undefined);
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  assert.deepEqual(postmastersOn(cluster), [orphan], 'the server outlives a killed Herald');

  const second = runHerald(t, ['start'], env);
  const again = await second.url;
  assert.ok(logged(second, /taking over/), 'the stale lock is taken over');
  const stopped = logged(second, /a killed herald left running/);
  assert.equal(stopped?.pid, orphan, 'the orphan was found and stopped');
  const running = postmastersOn(cluster);
  assert.equal(running.length, 1, 'exactly one server, the new one');
  assert.notEqual(running[0], orphan);
  await eventually(
    async () => {
      const { body } = await getJson(`${again}/metrics/summary`);
      return body.processed === acknowledged.length ? true : undefined;
    },
    { message: 'every acknowledged event processed', timeoutMs: 60_000 },
  );
  const missing: string[] = [];
  for (const id of acknowledged) {
    const { body } = await getJson(`${again}/api/v1/events/${id}`);
    if (body.status !== 'processed') missing.push(id);
  }
  assert.deepEqual(missing, [], 'acknowledged − processed is empty');
  assert.equal(await second.stop('SIGTERM'), 0);
  assert.deepEqual(postmastersOn(cluster), [], 'nothing left running');
});

test('a second herald start on the same DATA_DIR is refused, naming the pid that holds it', async (t) => {
  const dataDir = await dataDirFor(t);
  const first = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const url = await first.url;
  const second = runHerald(t, ['start'], { DATA_DIR: dataDir });
  assert.equal(await second.exited, 2, 'refused as a usage error');
  assert.match(
    second.stderr(),
    new RegExp(`DATA_DIR: ${dataDir} is in use by another herald \\(pid ${first.child.pid}\\)`),
  );
  const { status } = await getJson(`${url}/health/ready`);
  assert.equal(status, 200, 'the first one is untouched');
  assert.equal(postmastersOn(join(dataDir, 'postgres')).length, 1);
  assert.equal(await first.stop('SIGTERM'), 0);
});

test('the cluster runs as an unprivileged user: EMBEDDED_DATABASE_USER when Herald is root, Herald’s own user otherwise', async (t) => {
  const dataDir = await dataDirFor(t);
  const cluster = join(dataDir, 'postgres');
  const herald = runHerald(t, ['start'], { DATA_DIR: dataDir });
  await herald.url;
  const [pid] = postmastersOn(cluster);
  assert.ok(pid !== undefined);
  const uidOf = (p: number) =>
    Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]);
  const { execFileSync } = await import('node:child_process');
  const expected =
    process.getuid?.() === 0
      ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
      : process.getuid?.();
  assert.notEqual(uidOf(pid), 0, 'never root');
  assert.equal(uidOf(pid), expected);
  assert.equal((await stat(cluster)).uid, expected, 'the cluster directory is owned accordingly');
  if (process.getuid?.() === 0) {
    assert.equal(logged(herald, 'embedded PostgreSQL created and started')?.runAs, 'postgres');
  }
  assert.equal(await herald.stop('SIGTERM'), 0);
});

test('as root with no such EMBEDDED_DATABASE_USER, start refuses and says what to do', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('only root runs the cluster as another user');
    return;
  }
  const dataDir = await dataDirFor(t);
  const herald = runHerald(t, ['start'], {
    DATA_DIR: dataDir,
    EMBEDDED_DATABASE_USER: 'herald-no-such-user',
  });
  assert.equal(await herald.exited, 2);
  assert.match(
    herald.stderr(),
    /PostgreSQL refuses to run as root, and there is no user "herald-no-such-user"/,
  );
  assert.match(herald.stderr(), /useradd/);
});

test('memory:// runs a cluster in a temporary directory and leaves nothing behind', async (t) => {
  const herald = runHerald(t, ['start'], { DATA_DIR: 'memory://' });
  const url = await herald.url;
  const created = logged(herald, 'embedded PostgreSQL created and started');
  const cluster = String(created?.cluster);
  assert.ok(cluster.startsWith(tmpdir()), cluster);
  assert.equal(postmastersOn(cluster).length, 1);
  await postAndWaitProcessed(url);
  assert.equal(await herald.stop('SIGTERM'), 0);
  assert.deepEqual(postmastersOn(cluster), []);
  assert.equal(existsSync(join(cluster, '..')), false, 'its directory is removed');
});

/** The last migration of the version whose embedded database was PGlite. */
const PREVIOUS_VERSION_MIGRATION = 8;

test('the PGlite data directory of the previous version is imported on the first start and moved aside', async (t) => {
  const dataDir = await dataDirFor(t);
  // What the previous version left: PGlite in DATA_DIR at its last migration (008), three
  // events processed (their rows, rollups and the group's offsets) and two accepted but not
  // processed yet — written with that version's SQL (its log_append), not with today's broker.
  const previous = await openPreviousPglite(dataDir);
  await migrate(previous, { upTo: PREVIOUS_VERSION_MIGRATION });
  await previous.query(
    'INSERT INTO log_partitions (partition) SELECT g FROM generate_series(0, 7) g ON CONFLICT DO NOTHING',
  );
  const append = async (events: [id: string, user: string][]) => {
    const rows = events.map(([id, user], i) => ({
      i,
      event_id: id,
      generation: 0,
      topic: 'events',
      event_type: 'page_view',
      key: user,
      partition: partitionFor(user, 8),
      payload: { event_type: 'page_view', user_id: user, timestamp: '2024-01-01T12:00:00Z' },
      headers: {},
    }));
    const partitions = [...new Set(rows.map((r) => r.partition))];
    await previous.query('SELECT * FROM log_append($1::jsonb, $2::int[], $3)', [
      JSON.stringify(rows),
      partitions,
      'herald_appended',
    ]);
  };
  await append([
    ['old-1', 'user_12345'],
    ['old-2', 'user_12345'],
    ['old-3', 'u2'],
  ]);
  const logged3 = await previous.query<{
    event_id: string;
    partition: number;
    offset: number;
    key: string;
    payload: Record<string, unknown>;
    accepted_at: Date;
  }>('SELECT event_id, partition, "offset", key, payload, accepted_at FROM raw_events');
  await new PostgresEventStore(previous).persist(
    logged3.map((r) => ({
      id: r.event_id,
      topic: 'events',
      type: 'page_view',
      key: r.key,
      userId: r.key,
      payload: r.payload,
      enrichment: {},
      occurredAt: '2024-01-01T12:00:00Z',
      acceptedAt: new Date(r.accepted_at),
      processedAt: new Date(),
      correlationId: null,
      partition: r.partition,
      offset: Number(r.offset),
    })),
    [],
  );
  for (const r of logged3) {
    await previous.query(
      `INSERT INTO consumer_leases (group_id, partition, committed_offset)
       VALUES ('herald-processors', $1, $2)
       ON CONFLICT (group_id, partition)
       DO UPDATE SET committed_offset = greatest(consumer_leases.committed_offset, $2)`,
      [r.partition, Number(r.offset)],
    );
  }
  await append([
    ['old-4', 'u3'],
    ['old-5', 'u3'],
  ]);
  await previous.close();
  assert.ok(existsSync(join(dataDir, 'PG_VERSION')), 'a PGlite data directory');

  const herald = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const url = await herald.url;
  const imported = logged(herald, /^imported the previous version's embedded database/);
  assert.ok(imported, 'the import is logged');
  assert.equal(imported.events, 5);
  const backup = String(imported.backup);
  assert.match(backup, new RegExp(`^${dataDir}/pglite-backup-\\d{4}-\\d{2}-\\d{2}T\\d{6}$`));
  assert.ok(existsSync(join(backup, 'PG_VERSION')), 'the old files are in the backup');
  assert.equal(existsSync(join(dataDir, 'PG_VERSION')), false, 'and no longer at the top');
  assert.equal(existsSync(join(dataDir, 'pglite-import.json')), false, 'the import finished');
  for (const id of ['old-1', 'old-2', 'old-3', 'old-4', 'old-5']) {
    await eventually(
      async () =>
        (await getJson(`${url}/api/v1/events/${id}`)).body.status === 'processed'
          ? true
          : undefined,
      { message: `${id} processed` },
    );
  }
  const summary = await getJson(`${url}/metrics/summary`);
  assert.equal(summary.body.processed, 5, 'the imported offsets hold: nothing processed twice');
  const analytics = await getJson(`${url}/api/v1/analytics/user/user_12345`);
  assert.equal(analytics.status, 200);
  // New events go on after the imported ones (the sequences were carried over).
  const fresh = await postJson(`${url}/events`, { event_type: 'click', user_id: 'u9' });
  assert.equal(fresh.status, 202);
  assert.equal(await herald.stop('SIGTERM'), 0);

  // Imported once: the next start is a plain one.
  const next = runHerald(t, ['start'], { DATA_DIR: dataDir });
  await next.url;
  assert.equal(logged(next, /^imported/), undefined);
  assert.equal((await readdir(dataDir)).filter((n) => n.startsWith('pglite-backup-')).length, 1);
  assert.equal(await next.stop('SIGTERM'), 0);
});

test('a DATA_DIR holding some other PostgreSQL data directory is left alone: start refuses', async (t) => {
  const dataDir = await dataDirFor(t);
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(join(dataDir, 'base'), { recursive: true });
  await writeFile(join(dataDir, 'PG_VERSION'), '15\n');
  const herald = runHerald(t, ['start'], { DATA_DIR: dataDir });
  assert.equal(await herald.exited, 2);
  assert.match(herald.stderr(), /is not the embedded database of an earlier Herald/);
  assert.ok(existsSync(join(dataDir, 'PG_VERSION')), 'nothing was moved');
  assert.ok(existsSync(join(dataDir, 'base')));
});

test('a start that fails half-way (the API port is taken) stops the cluster it started and releases DATA_DIR', async (t) => {
  const dataDir = await dataDirFor(t);
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = String((blocker.address() as { port: number }).port);
  const herald = runHerald(t, ['start'], { DATA_DIR: dataDir, PORT: port });
  assert.notEqual(await herald.exited, 0);
  assert.ok(
    logged(herald, 'embedded PostgreSQL created and started'),
    'it got as far as the cluster',
  );
  assert.deepEqual(postmastersOn(join(dataDir, 'postgres')), [], 'the cluster was stopped');
  assert.equal(existsSync(join(dataDir, 'herald.lock')), false, 'DATA_DIR was released');
});

test('a DATA_DIR too deep for a unix socket path: the server listens in a short temporary directory instead', async (t) => {
  const dataDir = join(await dataDirFor(t), 'a-rather-long-directory-name'.repeat(3), 'data');
  assert.ok(Buffer.byteLength(join(dataDir, 'postgres', '.s.PGSQL.5432')) > 107);
  const herald = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const url = await herald.url;
  const socket = String(logged(herald, 'embedded PostgreSQL created and started')?.socket);
  assert.ok(socket.startsWith(join(tmpdir(), 'herald-pg-')), socket);
  assert.ok(existsSync(join(socket, '.s.PGSQL.5432')));
  await postAndWaitProcessed(url);
  assert.equal(await herald.stop('SIGTERM'), 0);
  assert.equal(existsSync(socket), false, 'removed at the stop');
});

test('a server killed while Herald runs is started again, and Herald goes on accepting and processing', async (t) => {
  const dataDir = await dataDirFor(t);
  const cluster = join(dataDir, 'postgres');
  const herald = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const url = await herald.url;
  const [victim] = postmastersOn(cluster);
  assert.ok(victim !== undefined);
  process.kill(victim, 'SIGKILL');
  await eventually(() => logged(herald, 'embedded PostgreSQL started again'), {
    message: 'the server restarted',
    timeoutMs: 30_000,
  });
  assert.ok(logged(herald, /exited while Herald runs/), 'the exit is logged as an error');
  const [successor] = postmastersOn(cluster);
  assert.ok(successor !== undefined && successor !== victim);
  // The pool reconnects: accepted (after a few refusals at most) and processed.
  let accepted: string | undefined;
  await eventually(
    async () => {
      const response = await postJson(`${url}/events`, { event_type: 'click', user_id: 'after' });
      if (response.status === 202) accepted = response.body.event_id as string;
      return accepted;
    },
    { message: 'an event accepted after the restart', timeoutMs: 30_000 },
  );
  await eventually(
    async () =>
      (await getJson(`${url}/api/v1/events/${accepted}`)).body.status === 'processed'
        ? true
        : undefined,
    { message: 'and processed', timeoutMs: 30_000 },
  );
  assert.equal(await herald.stop('SIGTERM'), 0);
  assert.deepEqual(postmastersOn(cluster), []);
});

test('a DATA_DIR/postgres that holds something other than a cluster is left alone: start refuses', async (t) => {
  const dataDir = await dataDirFor(t);
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(join(dataDir, 'postgres'), { recursive: true });
  await writeFile(join(dataDir, 'postgres', 'notes.txt'), 'mine');
  const herald = runHerald(t, ['start'], { DATA_DIR: dataDir });
  assert.equal(await herald.exited, 2);
  assert.match(
    herald.stderr(),
    /holds no PostgreSQL cluster \(no PG_VERSION\); Herald leaves it alone/,
  );
  assert.ok(existsSync(join(dataDir, 'postgres', 'notes.txt')));
});
