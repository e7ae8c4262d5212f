/**
 * Migration 011 on a database with data (the upgrade path): the unpartitioned raw_events of
 * version 010, with its rows and consumer groups mid-way, becomes segment 0 of the segmented
 * log as it is; consumers go on from their committed offsets, appends from the partitions'
 * counters. The time it takes for the rows is reported (node --test prints the diagnostic).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresBroker } from '../../../../src/adapters/brokers/postgres/broker.ts';
import {
  loadMigrations,
  migrate,
  splitStatements,
} from '../../../../src/adapters/postgres/migrate.ts';
import type { DeliveredMessage } from '../../../../src/ports/broker.ts';
import type { Database } from '../../../../src/ports/database.ts';
import { describeEachDatabase } from '../../../helpers/databases.ts';
import { eventually } from '../../../helpers/eventually.ts';

/** Applies the migrations before 011, as a database of the previous version has them. */
async function migrateTo010(db: Database): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS herald_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const migration of await loadMigrations()) {
    if (migration.version >= 11) continue;
    await db.transaction(async (tx) => {
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO herald_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    });
  }
}

describeEachDatabase('migration 011 on an existing log', (database) => {
  test('the rows of an unpartitioned raw_events are carried over and consumers go on where they were', async (t) => {
    const rows = database.kind === 'postgres' ? 200_000 : 20_000;
    const db = await database.open(t);
    // database.open migrates fully: start again from an empty schema, at 010.
    await resetSchema(db);
    await migrateTo010(db);
    // The log of version 010: 4 partitions, `rows` events, a group committed half-way.
    await db.query('INSERT INTO log_partitions (partition) SELECT generate_series(0, 3)');
    await db.query(
      `INSERT INTO raw_events (partition, "offset", event_id, topic, event_type, key, payload,
         accepted_at)
       SELECT g % 4, g / 4, 'old-' || g, 'analytics', 'click', 'u' || (g % 4),
         jsonb_build_object('user_id', 'u' || (g % 4), 'event_type', 'click', 'seq', g / 4),
         now() - interval '1 hour' + g * interval '1 millisecond'
       FROM generate_series(0, $1::int - 1) g`,
      [rows],
    );
    await db.query('UPDATE log_partitions SET next_offset = $1::int / 4', [rows]);
    const perPartition = rows / 4;
    await db.query(
      `INSERT INTO consumer_leases (group_id, partition, committed_offset)
       SELECT 'g', p, $1::int - 3 FROM generate_series(0, 3) p`,
      [perPartition],
    );

    const started = performance.now();
    assert.deepEqual(await migrate(db), [11]);
    t.diagnostic(
      `migration 011 on ${rows} rows (${database.kind}): ${Math.round(performance.now() - started)} ms`,
    );

    const [count] = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM raw_events WHERE segment = 0',
    );
    assert.equal(count?.n, rows, 'every row is in segment 0');
    const [one] = await db.query<{ event_id: string; segment: number }>(
      `SELECT event_id, segment FROM raw_events WHERE event_id = 'old-4001'`,
    );
    assert.deepEqual(one, { event_id: 'old-4001', segment: 0 });

    const broker = await PostgresBroker.open(db, { partitions: 4, leaseMs: 5000, pollMs: 10 });
    t.after(() => broker.close());
    const [appended] = await broker.publish([
      {
        id: 'new-1',
        topic: 'analytics',
        key: 'u0',
        type: 'click',
        value: { seq: 'new' },
        headers: {},
      },
    ]);
    assert.equal(appended?.status, 'appended');
    const [placed] = await db.query<{ offset: number; segment: number }>(
      `SELECT "offset", segment FROM raw_events WHERE event_id = 'new-1'`,
    );
    assert.equal(placed?.segment, 1, 'new appends go to the next segment');

    const received: DeliveredMessage[] = [];
    const consumer = await broker.consume({
      group: 'g',
      consumerId: 'after-upgrade',
      topics: ['analytics'],
      batchSize: 100,
      concurrency: 2,
      handler: async (batch) => {
        received.push(...batch);
        return { handled: batch.length };
      },
    });
    t.after(() => consumer.stop());
    await eventually(() => (received.length === 4 * 2 + 1 ? true : undefined));
    const u0 = received.filter((m) => m.key === 'u0').map((m) => m.offset);
    assert.deepEqual(
      u0,
      [perPartition - 2, perPartition - 1, perPartition],
      'the group goes on after its committed offset, into the new segment, in order',
    );
    assert.equal(Number(placed?.offset), perPartition, 'the partition’s offsets go on');
  });

  test('a process of the previous version appends during a rolling upgrade (the 3-argument log_append)', async (t) => {
    const db = await database.open(t);
    await db.query('INSERT INTO log_partitions (partition) VALUES (0) ON CONFLICT DO NOTHING');
    const stored = await db.query<{ event_id: string }>(
      `SELECT log_append($1::jsonb, $2::int[], 'herald_log_appended') AS event_id`,
      [
        JSON.stringify([
          {
            i: 0,
            event_id: 'v010',
            generation: 0,
            topic: 'analytics',
            event_type: 'click',
            key: 'k',
            partition: 0,
            payload: {},
            headers: {},
          },
        ]),
        [0],
      ],
    );
    assert.deepEqual(stored, [{ event_id: 'v010' }]);
  });
});

/** Empties the test's schema (the factory migrated it fully). */
async function resetSchema(db: Database): Promise<void> {
  const [schema] = await db.query<{ s: string }>('SELECT current_schema() AS s');
  await db.query(`DROP SCHEMA ${schema?.s} CASCADE`);
  await db.query(`CREATE SCHEMA ${schema?.s}`);
}
