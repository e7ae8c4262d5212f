import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { getJson, postJson, SEED_EXAMPLES } from '../helpers/platform.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

async function postSeedsAndWaitProcessed(url: string): Promise<string[]> {
  const ids: string[] = [];
  for (const example of SEED_EXAMPLES) {
    const response = await postJson(url + example.path, example.body);
    assert.equal(response.status, 202, `${example.path}: ${JSON.stringify(response.body)}`);
    ids.push(response.body.event_id as string);
  }
  for (const id of ids) {
    await eventually(
      async () => {
        const { body } = await getJson(`${url}/api/v1/events/${id}`);
        return body.status === 'processed' ? true : undefined;
      },
      { message: `${id} processed` },
    );
  }
  return ids;
}

test('herald start runs the platform on the embedded database and keeps data across restarts', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-e2e-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const first = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const ids = await postSeedsAndWaitProcessed(await first.url);
  assert.equal(await first.stop('SIGTERM'), 0, 'a graceful stop exits 0');

  const second = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const url = await second.url;
  for (const id of ids) {
    const { status, body } = await getJson(`${url}/api/v1/events/${id}`);
    assert.equal(status, 200);
    assert.equal(body.status, 'processed');
  }
  const summary = await getJson(`${url}/metrics/summary`);
  assert.equal(summary.body.processed, 3);
  assert.equal(await second.stop('SIGINT'), 0);
});

test('herald api and two herald worker processes share a PostgreSQL server', async (t) => {
  const schema = uniqueSchema('herald_e2e');
  t.after(() => dropSchema(schema));
  const env = { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema, WORKER_POLL_MS: '20' };
  const api = runHerald(t, ['api'], env);
  const url = await api.url;
  const workers = [runHerald(t, ['worker'], env), runHerald(t, ['worker'], env)];
  for (const worker of workers) {
    await eventually(() =>
      worker.logs.some((l) => l.msg === 'worker started') ? true : undefined,
    );
  }
  await postSeedsAndWaitProcessed(url);
  const batch = Array.from({ length: 400 }, (_, i) => ({
    event_type: 'click',
    user_id: `user-${i % 50}`,
  }));
  await postJson(`${url}/api/v1/events/batch`, batch);
  await eventually(async () => {
    const { body } = await getJson(`${url}/metrics/summary`);
    return body.processed === 403 ? true : undefined;
  });
  for (const worker of workers) assert.equal(await worker.stop('SIGTERM'), 0);
});

test('a worker killed with SIGKILL mid-run loses nothing: another takes over and each event is processed once', async (t) => {
  const schema = uniqueSchema('herald_e2e');
  t.after(() => dropSchema(schema));
  const env = {
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    WORKER_POLL_MS: '10',
    WORKER_LEASE_MS: '1000',
    WORKER_BATCH_SIZE: '50',
    WORKER_CONCURRENCY: '2',
  };
  const api = runHerald(t, ['api'], env);
  const url = await api.url;
  const victim = runHerald(t, ['worker'], env);
  await eventually(() => (victim.logs.some((l) => l.msg === 'worker started') ? true : undefined));

  const total = 20_000;
  const acknowledged = new Set<string>();
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  t.after(() => client.end());
  const processedCount = async () =>
    Number((await client.query(`SELECT count(*) AS n FROM ${schema}.processed_events`)).rows[0].n);

  // Publish in the background while the worker runs; kill it once it is well into the work.
  const publishing = (async () => {
    for (let start = 0; start < total; start += 1000) {
      const events = Array.from({ length: 1000 }, (_, i) => ({
        id: `e-${start + i}`,
        event_type: 'click',
        user_id: `user-${(start + i) % 97}`,
        properties: { seq: start + i },
      }));
      const response = await postJson(`${url}/api/v1/events/batch`, events);
      assert.equal(response.status, 202);
      for (const r of response.body.results as { event_id: string }[]) acknowledged.add(r.event_id);
    }
  })();
  await eventually(async () => ((await processedCount()) >= 2000 ? true : undefined), {
    timeoutMs: 30_000,
  });
  victim.child.kill('SIGKILL');
  assert.equal(await victim.exited, 'SIGKILL');
  const killedAt = await processedCount();
  await publishing;
  assert.ok(killedAt < total, `the worker was killed mid-run (${killedAt} of ${total} processed)`);

  const heir = runHerald(t, ['worker'], env);
  await eventually(async () => ((await processedCount()) === total ? true : undefined), {
    timeoutMs: 60_000,
  });

  const persisted = new Set(
    (await client.query(`SELECT event_id FROM ${schema}.processed_events`)).rows.map(
      (r) => r.event_id as string,
    ),
  );
  const lost = [...acknowledged].filter((id) => !persisted.has(id));
  assert.equal(acknowledged.size, total);
  assert.deepEqual(lost, [], 'acknowledged − persisted is empty');
  assert.equal(persisted.size, acknowledged.size, 'nothing persisted that was not acknowledged');
  const dead = await client.query(`SELECT count(*)::int AS n FROM ${schema}.failed_events`);
  assert.equal(dead.rows[0].n, 0);
  assert.equal(await heir.stop('SIGTERM'), 0);
});

test('SIGTERM under load: every event answered 202 before the stop is there after a restart', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-e2e-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const first = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const url = await first.url;
  const acknowledged: string[] = [];
  let refused = 0;
  const sender = async (lane: number) => {
    for (let i = 0; ; i++) {
      try {
        const events = Array.from({ length: 20 }, (_, j) => ({
          id: `lane${lane}-${i}-${j}`,
          event_type: 'click',
          user_id: `u${lane}`,
        }));
        const response = await postJson(`${url}/api/v1/events/batch`, events);
        if (response.status !== 202) {
          refused++;
          return;
        }
        for (const r of response.body.results as { event_id: string }[])
          acknowledged.push(r.event_id);
      } catch {
        return; // connection refused or reset: the server is gone, nothing was promised
      }
    }
  };
  const senders = Promise.all([0, 1, 2, 3].map(sender));
  await eventually(() => (acknowledged.length >= 400 ? true : undefined));
  assert.equal(await first.stop('SIGTERM'), 0);
  await senders;

  const second = runHerald(t, ['start'], { DATA_DIR: dataDir });
  const again = await second.url;
  await eventually(async () => {
    const { body } = await getJson(`${again}/metrics/summary`);
    return body.processed === body.accepted ? true : undefined;
  });
  const missing: string[] = [];
  for (const id of acknowledged) {
    const { body } = await getJson(`${again}/api/v1/events/${id}`);
    if (body.status !== 'processed') missing.push(id);
  }
  assert.deepEqual(missing, [], `acknowledged ${acknowledged.length}, refused ${refused}`);
});

test('usage and configuration mistakes exit 2 with a message naming the problem', async (t) => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['fly'], {}, /unknown command "fly"/],
    [['start', '--port', 'eighty'], {}, /PORT: expected an integer/],
    [
      ['worker'],
      { DATABASE_URL: '' },
      /DATABASE_URL: separate api and worker processes need a PostgreSQL server/,
    ],
  ];
  for (const [args, env, message] of cases) {
    const run = runHerald(t, args, env);
    let stderr = '';
    run.child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    assert.equal(await run.exited, 2, args.join(' '));
    assert.match(stderr, message);
  }
});

test('SIGTERM while the platform is still starting is honoured once it has started: a clean exit 0', async (t) => {
  const schema = uniqueSchema('herald_e2e');
  t.after(() => dropSchema(schema));
  // A slow link to the database holds the start-up (connect, migrate) open long enough for the
  // signal to arrive during it, however fast or busy the machine.
  const proxy = await TcpProxy.start(5432);
  t.after(() => proxy.close());
  proxy.setFaults({ delayMs: 250 });
  const url = `postgresql://postgres@127.0.0.1:${proxy.port}/test`;
  const worker = runHerald(t, ['worker'], { DATABASE_URL: url, DATABASE_SCHEMA: schema });
  // The first log line comes before the database is opened and migrated.
  await eventually(() => (worker.logs.some((l) => l.msg === 'herald starting') ? true : undefined));
  assert.equal(
    worker.logs.some((l) => l.msg === 'worker started'),
    false,
    'the signal arrives during start-up',
  );
  const exit = worker.stop('SIGTERM');
  proxy.setFaults({});
  assert.equal(await exit, 0);
  assert.ok(
    worker.logs.some((l) => l.msg === 'worker started'),
    'it finished starting first',
  );
  assert.ok(
    worker.logs.some((l) => l.msg === 'stopped'),
    'it stopped gracefully',
  );
});
