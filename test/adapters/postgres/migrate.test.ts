import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  loadMigrations,
  migrate,
  splitStatements,
} from '../../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../../src/adapters/postgres/server.ts';
import {
  describeEachDatabase,
  dropSchema,
  POSTGRES_URL,
  uniqueSchema,
} from '../../helpers/databases.ts';

describeEachDatabase('migrations', (database) => {
  test('migrating an up-to-date database applies nothing', async (t) => {
    const db = await database.open(t);
    assert.deepEqual(await migrate(db), []);
    const rows = await db.query<{ version: number }>(
      'SELECT version FROM herald_migrations ORDER BY version',
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      (await loadMigrations()).map((m) => m.version),
    );
  });
});

test('processes starting together on one server migrate it once', async (t) => {
  const schema = uniqueSchema();
  t.after(() => dropSchema(schema));
  const dbs = await Promise.all(
    [1, 2, 3].map(() => openPostgres({ url: POSTGRES_URL, schema, poolSize: 2 })),
  );
  t.after(() => Promise.all(dbs.map((db) => db.close())));
  const applied = await Promise.all(dbs.map((db) => migrate(db)));
  const all = applied.flat().sort();
  assert.deepEqual(all, (await loadMigrations()).map((m) => m.version).sort());
});

test('a migration file splits into its statements, comments dropped', () => {
  assert.deepEqual(
    splitStatements('-- note\nCREATE TABLE a (x int);\n\nCREATE INDEX b ON a (x);\n'),
    ['CREATE TABLE a (x int)', 'CREATE INDEX b ON a (x)'],
  );
});

test('a function body keeps its own statements and comments', () => {
  const body = 'BEGIN\n  -- why\n  PERFORM 1;\n  RETURN;\nEND $$';
  assert.deepEqual(
    splitStatements(
      `CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\n${body};\nSELECT 1;\n`,
    ),
    [`CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\n${body}`, 'SELECT 1'],
  );
});
