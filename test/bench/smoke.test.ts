/**
 * The benchmark harness works: a --quick run of every scenario of the harness (three bench
 * processes side by side, to keep it short) exits 0 and records well-formed results, goals
 * included. A benchmark is not a test: nothing here looks at how fast anything was.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { POSTGRES_URL } from '../helpers/databases.ts';

const RUN = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));

function runBench(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUN, ...args], {
      env: {
        ...process.env,
        BENCH_DATABASE_URL: POSTGRES_URL,
        BENCH_KAFKA_BROKERS: process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Recorded {
  scenario: string;
  date: string;
  quick: boolean;
  machine: { cores: number; ram_gib: number; node: string; postgres: string };
  config: Record<string, unknown>;
  figures: Record<string, unknown>;
  tables: { title: string; columns: string[]; rows: unknown[][] }[];
  goals: { goal: string; target: string; measured: string; status: string }[];
}

async function benchSchemas(): Promise<string[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const result = await client.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%' OR nspname LIKE 'herald\\_bench\\_%'",
    );
    return result.rows.map((r) => r.nspname);
  } finally {
    await client.end();
  }
}

// Three bench processes side by side: most of a quick run is processes starting.
const GROUPS = [
  ['ingest-single', 'ingest-batch', 'retention', 'replay'],
  ['e2e', 'memory'],
  ['peers', 'ingest-contracts'],
];

test('a quick run of every scenario records well-formed results and goals, and cleans up after itself', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'herald-bench-smoke-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const schemasBefore = new Set(await benchSchemas());

  // Both databases: the embedded default is the one a newcomer meets first.
  const runs = await Promise.all(
    GROUPS.map((group, i) =>
      runBench([
        '--quick',
        '--scenario',
        group.join(','),
        '--database',
        'postgres,embedded',
        '--out',
        join(out, String(i)),
      ]),
    ),
  );
  for (const run of runs) {
    assert.equal(run.code, 0, `bench exited ${run.code}:\n${run.stderr.slice(-3000)}`);
  }

  const read = async (scenario: string) => {
    const i = GROUPS.findIndex((g) => g.includes(scenario));
    return JSON.parse(await readFile(join(out, String(i), `${scenario}.json`), 'utf8')) as Recorded;
  };
  for (const [i, group] of GROUPS.entries()) {
    const stdout = runs[i]?.stdout ?? '';
    for (const scenario of group) {
      const recorded = await read(scenario);
      assert.equal(recorded.scenario, scenario);
      assert.equal(recorded.quick, true);
      assert.ok(!Number.isNaN(Date.parse(recorded.date)), 'date is ISO 8601');
      assert.ok(recorded.machine.cores >= 1, 'machine cores recorded');
      assert.ok(recorded.machine.ram_gib > 0, 'machine RAM recorded');
      assert.match(recorded.machine.node, /^v\d+\./);
      assert.match(recorded.machine.postgres, /^\d+/);
      assert.equal(typeof recorded.config, 'object');
      assert.ok(Object.keys(recorded.figures).length > 0, `${scenario}: figures recorded`);
      assert.ok(recorded.tables.length > 0, `${scenario}: at least one table`);
      for (const table of recorded.tables) {
        assert.ok(table.rows.length > 0, `${table.title}: has rows`);
        for (const row of table.rows) {
          assert.equal(row.length, table.columns.length, `${table.title}: row matches columns`);
        }
        assert.ok(stdout.includes(`**${table.title}**`), `${table.title}: printed`);
      }
      assert.ok(recorded.goals.length > 0, `${scenario}: goals judged`);
      for (const goal of recorded.goals) {
        assert.ok(goal.goal !== '' && goal.target !== '', `${scenario}: goal named`);
        assert.match(goal.status, /^(pass|miss|— \(not measured\))$/, `${goal.goal}: status`);
      }
    }
    assert.ok(stdout.includes('**Goals (this run)**'), 'goals printed');
  }

  const single = await read('ingest-single');
  assert.deepEqual(
    single.tables[0]?.rows.map((r) => r[0]),
    [
      'bare node:http',
      'bare Fastify + schema',
      'Herald api · PostgreSQL',
      'Herald start · PostgreSQL server',
      'Herald start · embedded PostgreSQL',
    ],
    'every system of the comparison ran in the same run',
  );
  const e2e = await read('e2e');
  assert.ok(
    e2e.tables[0]?.rows.some((r) => String(r[0]).startsWith('ceiling: batched INSERT')),
    'the end-to-end run measured its own batched INSERT ceiling',
  );
  const embedded = e2e.figures['herald start · embedded · postgres queue'] as {
    start_ms?: { first: number; later: number };
    rss_mib?: Record<string, unknown>;
  };
  assert.ok((embedded.start_ms?.first ?? 0) > 0, 'the first start of the embedded default timed');
  assert.ok((embedded.start_ms?.later ?? 0) > 0, 'and a later one');
  assert.deepEqual(
    Object.keys(embedded.rss_mib ?? {}).sort(),
    ['postgres (embedded cluster)', 'start'],
    'Herald and its PostgreSQL measured side by side',
  );
  const peers = await read('peers');
  const systems = (peers.figures.systems as { system: string; completed: boolean }[]).map(
    (s) => s.system,
  );
  for (const name of [
    'Herald',
    'ceiling: COPY',
    'ceiling: batched INSERT',
    'ceiling: @platformatic/kafka producer',
    'hand-rolled @platformatic/kafka consumer',
    'BullMQ',
    'pg-boss',
    'graphile-worker',
  ]) {
    assert.ok(
      systems.some((s) => s.startsWith(name)),
      `${name} measured (got ${systems.join('; ')})`,
    );
  }
  assert.ok(
    (peers.figures.systems as { completed: boolean }[]).every((s) => s.completed),
    'every system persisted all its events',
  );

  const table = await readFile(join(out, '0', 'README-table.md'), 'utf8');
  assert.match(table, /Ingest, one event per request/);
  assert.match(table, /quick run: figures mean nothing/);

  const left = (await benchSchemas()).filter((s) => !schemasBefore.has(s));
  assert.deepEqual(left, [], 'the runs dropped the schemas they created');
});
