import assert from 'node:assert/strict';
import { test } from 'node:test';
import client from 'prom-client';
import { PostgresBroker } from '../../../src/adapters/brokers/postgres/broker.ts';
import * as brokerSql from '../../../src/adapters/brokers/postgres/sql.ts';
import { PostgresRetentionStore } from '../../../src/adapters/store/postgres/retention.ts';
import { LogMaintenance, type MaintenanceOptions } from '../../../src/app/retention/maintenance.ts';
import { RetentionMetrics } from '../../../src/app/retention/metrics.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import type { Database } from '../../../src/ports/database.ts';
import { describeEachDatabase } from '../../helpers/databases.ts';
import { eventually } from '../../helpers/eventually.ts';

const logger = createLogger('silent');

async function setUp(db: Database, options: Partial<MaintenanceOptions> = {}) {
  // A dedupe window of 1 ms: closed segments may go as soon as retention allows.
  const broker = await PostgresBroker.open(db, {
    partitions: 2,
    leaseMs: 5000,
    pollMs: 10,
    dedupeWindowMs: 1,
  });
  const registry = new client.Registry();
  const metrics = new RetentionMetrics(registry);
  const make = (holder: string) =>
    new LogMaintenance(broker.log, new PostgresRetentionStore(db), metrics, logger, {
      holder,
      intervalMs: 60_000,
      segmentMs: 86_400_000,
      dedupeWindowMs: 86_400_000,
      logRetentionMs: undefined,
      history: {},
      ...options,
    });
  return { broker, registry, make };
}

const metricLine = async (registry: client.Registry, pattern: RegExp) =>
  (await registry.metrics()).split('\n').find((line) => pattern.test(line));

describeEachDatabase('log maintenance', (database) => {
  test('one process at a time holds the maintenance lease; another takes over once it is given back', async (t) => {
    const db = await database.open(t);
    const { make } = await setUp(db);
    const one = make('one');
    const two = make('two');
    const [a, b] = await Promise.all([one.runOnce(), two.runOnce()]);
    assert.deepEqual([a.ran, b.ran].sort(), [false, true]);
    const holder = a.ran ? one : two;
    const other = a.ran ? two : one;
    assert.equal((await other.runOnce()).ran, false, 'the lease is still held');
    await holder.stop();
    assert.equal((await other.runOnce()).ran, true);
    await other.stop();
  });

  test('a pass rolls the segment when due, cuts what every group committed, and flags the group that holds the rest back', async (t) => {
    const db = await database.open(t);
    const { broker, registry, make } = await setUp(db, { segmentMs: 1, logRetentionMs: 1 });
    await broker.publish([
      { id: 'a', topic: 'analytics', key: 'u1', type: 'click', value: {}, headers: {} },
    ]);
    await db.query(brokerSql.joinGroup, ['stalled']);
    await db.query(brokerSql.joinGroup, ['processors']);
    await db.query(
      `UPDATE consumer_leases SET committed_offset = 10 WHERE group_id = 'processors'`,
    );
    const maintenance = make('m');
    t.after(() => maintenance.stop());
    const first = await maintenance.runOnce();
    assert.equal(first.rolled, 2, 'segment 2 opens: 1 is older than LOG_SEGMENT');
    // The next pass's cutoff is past segment 1's close.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await maintenance.runOnce();
    assert.deepEqual(second.log?.heldBy, ['stalled']);
    assert.match(
      (await metricLine(registry, /^herald_log_retention_blocked\{group="stalled"\}/)) ?? '',
      / 1$/,
    );
    assert.match(
      (await metricLine(registry, /^herald_log_retention_blocked\{group="processors"\}/)) ?? '',
      / 0$/,
    );
    await db.query(`UPDATE consumer_leases SET committed_offset = 10 WHERE group_id = 'stalled'`);
    const third = await maintenance.runOnce();
    assert.ok((third.log?.count ?? 0) >= 1, JSON.stringify(third.log));
    assert.match(
      (await metricLine(registry, /^herald_log_retention_blocked\{group="stalled"\}/)) ?? '',
      / 0$/,
    );
    assert.match(
      (await metricLine(registry, /^herald_retention_removed_total\{what="log"\}/)) ?? '',
      / [1-9]/,
    );
  });

  test('history past its retention goes in batches; live rows and recent ones stay', async (t) => {
    const db = await database.open(t);
    const { make } = await setUp(db, {
      history: {
        attempts: 3_600_000,
        deliveries: 3_600_000,
        dead_letters: 86_400_000,
        processed: 86_400_000,
      },
      batch: 2,
    });
    const failed = (id: string, status: string, age: string) =>
      db.query(
        `INSERT INTO failed_events (event_id, topic, event_type, key, payload, status, reason,
           error_code, last_error, accepted_at, last_failed_at)
         VALUES ($1, 'analytics', 'click', 'k', '{}', $2, 'invalid', 'E', 'e', now(), now() - $3::interval)`,
        [id, status, age],
      );
    await failed('retrying-old', 'retrying', '2 hours');
    await failed('replayed-old', 'replayed', '2 hours');
    await failed('retrying-new', 'retrying', '1 minute');
    await failed('dead-2h', 'dead', '2 hours');
    await failed('dead-old', 'dead', '2 days');
    await failed('purged-old', 'purged', '2 days');
    const delivery = (id: string, status: string, age: string) =>
      db.query(
        `INSERT INTO notification_deliveries (id, event_id, event_type, channel, recipient, payload,
           status, created_at)
         VALUES ($1, $1, 'user.created', 'email', 'a@b.c', '{}', $2, now() - $3::interval)`,
        [id, status, age],
      );
    await delivery('sent-old', 'sent', '2 hours');
    await delivery('failed-old', 'failed', '2 hours');
    await delivery('pending-old', 'pending', '2 hours');
    await delivery('sent-new', 'sent', '1 minute');
    for (const [id, age] of [
      ['p-old', '3 days'],
      ['p-new', '1 minute'],
    ] as const) {
      await db.query(
        `INSERT INTO processed_events (event_id, topic, event_type, key, payload, occurred_at,
           accepted_at, processed_at, source_partition, source_offset)
         VALUES ($1, 'analytics', 'click', 'k', '{}', now() - $2::interval, now() - $2::interval,
           now() - $2::interval, 0, 0)`,
        [id, age],
      );
    }
    await db.query(
      `INSERT INTO analytics_counts (grain, bucket, event_type, topic, n)
       VALUES ('day', date_trunc('day', now()), 'click', 'analytics', 2)`,
    );

    const maintenance = make('m');
    t.after(() => maintenance.stop());
    const report = await maintenance.runOnce();
    assert.deepEqual(report.history, { attempts: 2, deliveries: 2, dead_letters: 2, processed: 1 });
    const ids = async (table: string, column: string) =>
      (await db.query<{ id: string }>(`SELECT ${column} AS id FROM ${table} ORDER BY 1`)).map(
        (r) => r.id,
      );
    assert.deepEqual(await ids('failed_events', 'event_id'), ['dead-2h', 'retrying-new']);
    assert.deepEqual(await ids('notification_deliveries', 'id'), ['pending-old', 'sent-new']);
    assert.deepEqual(await ids('processed_events', 'event_id'), ['p-new']);
    const [rollup] = await db.query<{ n: number }>(`SELECT sum(n)::int AS n FROM analytics_counts`);
    assert.equal(rollup?.n, 2, 'the analytics rollups always stay');
  });

  test('the dedupe slot holding only expired ids is emptied once per period, and a clearing a crash interrupted is finished', async (t) => {
    const db = await database.open(t);
    // A window whose current period is well under way: now is 30-70 % into it.
    let windowMs = 600_000;
    while ((Date.now() % windowMs) / windowMs < 0.3 || (Date.now() % windowMs) / windowMs > 0.7) {
      windowMs += 7_000;
    }
    const store = new PostgresRetentionStore(db);
    const [{ current, previous, expired } = { current: 0, previous: 0, expired: 0 }] =
      await db.query<{ current: number; previous: number; expired: number }>(
        `SELECT current_slot AS current, previous_slot AS previous, (3 - current_slot - previous_slot) AS expired
         FROM dedupe_slots($1)`,
        [windowMs],
      );
    for (const slot of [current, previous, expired]) {
      await db.query(
        `INSERT INTO event_dedupe (slot, event_id, generation, accepted_at) VALUES ($1, $2, 0, now())`,
        [slot, `id-${slot}`],
      );
    }
    const cleared = await store.clearExpiredDedupeSlot(windowMs);
    assert.equal(cleared.slot, expired);
    const left = async () =>
      (await db.query<{ slot: number }>('SELECT slot FROM event_dedupe ORDER BY slot')).map(
        (r) => r.slot,
      );
    assert.deepEqual(await left(), [current, previous].sort());
    await db.query(
      `INSERT INTO event_dedupe (slot, event_id, generation, accepted_at) VALUES ($1, 'again', 0, now())`,
      [expired],
    );
    assert.equal((await store.clearExpiredDedupeSlot(windowMs)).slot, undefined, 'once per period');
    assert.equal((await left()).length, 3);

    // A crash between detach and attach: the slot table is detached; inserts into it would fail.
    await db.query(`ALTER TABLE event_dedupe DETACH PARTITION event_dedupe_${expired}`);
    await store.clearExpiredDedupeSlot(windowMs);
    await eventually(async () => {
      const [row] = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'event_dedupe'::regclass`,
      );
      return row?.n === 3 ? true : undefined;
    });
    await db.query(
      `INSERT INTO event_dedupe (slot, event_id, generation, accepted_at) VALUES ($1, 'after', 0, now())`,
      [expired],
    );
  });
});
