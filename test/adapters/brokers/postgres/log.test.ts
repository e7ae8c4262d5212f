import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresBroker } from '../../../../src/adapters/brokers/postgres/broker.ts';
import * as sql from '../../../../src/adapters/brokers/postgres/sql.ts';
import type { DeliveredMessage, OutgoingMessage } from '../../../../src/ports/broker.ts';
import type { LogSelection } from '../../../../src/ports/broker-log.ts';
import type { Database } from '../../../../src/ports/database.ts';
import { describeEachDatabase } from '../../../helpers/databases.ts';
import { eventually } from '../../../helpers/eventually.ts';

function message(
  id: string,
  key: string,
  type = 'page_view',
  topic = 'analytics',
): OutgoingMessage {
  return { id, topic, key, type, value: { id }, headers: { correlation_id: `c-${id}` } };
}

/** A dedupe window of 1 ms: segments may go as soon as retention allows (see the last test). */
async function openBroker(db: Database, partitions = 2, dedupeWindowMs = 1) {
  return PostgresBroker.open(db, { partitions, leaseMs: 5000, pollMs: 10, dedupeWindowMs });
}

/** Consumes everything the group has not committed, until its lag is 0. */
async function drain(broker: PostgresBroker, group: string): Promise<DeliveredMessage[]> {
  const received: DeliveredMessage[] = [];
  const consumer = await broker.consume({
    group,
    consumerId: `${group}-c`,
    topics: ['analytics', 'chemical'],
    batchSize: 100,
    concurrency: 2,
    handler: async (batch) => {
      received.push(...batch);
      return { handled: batch.length };
    },
  });
  await eventually(async () =>
    (await broker.lag(group)).every((p) => p.lag === 0) ? true : undefined,
  );
  await consumer.stop();
  return received;
}

const tables = async (db: Database) =>
  (
    await db.query<{ name: string }>(
      `SELECT inhrelid::regclass::text AS name FROM pg_inherits
       WHERE inhparent = 'raw_events'::regclass ORDER BY 1`,
    )
  ).map((r) => r.name);

const future = () => new Date(Date.now() + 60_000);

describeEachDatabase('Postgres event log over time', (database) => {
  test('retention drops a segment whole once every group committed it, and never an event a stopped group has not', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db);
    await broker.publish([message('old-1', 'u1'), message('old-2', 'u2')]);
    const rolled = await broker.log.roll(0);
    assert.equal(rolled, 2, 'segment 1 was current after the migration; 2 opens');
    await broker.publish([message('new-1', 'u1')]);
    await drain(broker, 'processors');
    // A group that joined and stopped before reading anything: it holds everything back.
    await db.query(sql.joinGroup, ['stalled']);

    const held = await broker.log.prune(future());
    // Segment 0 (the upgrade's, empty on a new database) holds nothing anyone waits for.
    assert.deepEqual(held.dropped, ['segment 0 (0 offsets)']);
    assert.equal(held.count, 0);
    assert.deepEqual(held.heldBy, ['stalled']);
    const status = await broker.log.status(future());
    assert.deepEqual(status.groups, [
      { group: 'processors', blocking: false },
      { group: 'stalled', blocking: true },
    ]);
    assert.ok((await tables(db)).includes('raw_events_s1'), 'the held segment is still there');

    const late = await drain(broker, 'stalled');
    assert.deepEqual(
      late.map((m) => m.id).sort(),
      ['new-1', 'old-1', 'old-2'],
      'the stalled group gets every event once it runs',
    );
    const dropped = await broker.log.prune(future());
    // Segment 1 is closed and committed by every group: it goes; 2 is open.
    assert.deepEqual(dropped.dropped, ['segment 1 (2 offsets)']);
    assert.equal(dropped.count, 2);
    assert.deepEqual(await tables(db), ['raw_events_s2']);
    const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_events');
    assert.equal(row?.n, 1, 'only the open segment’s event is left');
    const after = await broker.log.status();
    assert.ok(after.retainedSince !== null, 'a cut log says since when it is complete');
    assert.deepEqual(
      after.segments.map((s) => s.segment),
      [2],
    );
  });

  test('a segment younger than the cutoff stays, whoever has committed it', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db);
    await broker.publish([message('a', 'u1')]);
    await broker.log.roll(0);
    await drain(broker, 'processors');
    const report = await broker.log.prune(new Date(Date.now() - 60_000));
    assert.equal(report.count, 0);
    assert.deepEqual(report.heldBy, []);
    assert.ok((await tables(db)).includes('raw_events_s1'));
  });

  test('a consumer reads on across segments in order, from the segment of its committed position', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db, 1);
    const seen: string[] = [];
    for (let s = 0; s < 3; s++) {
      await broker.publish([message(`e${s}-a`, 'k'), message(`e${s}-b`, 'k')]);
      seen.push(...(await drain(broker, 'g')).map((m) => `${m.id}@${m.offset}`));
      await broker.log.roll(0);
    }
    assert.deepEqual(seen, ['e0-a@0', 'e0-b@1', 'e1-a@2', 'e1-b@3', 'e2-a@4', 'e2-b@5']);
    const [lease] = await db.query<{ committed_segment: number }>(
      `SELECT committed_segment FROM consumer_leases WHERE group_id = 'g'`,
    );
    assert.equal(lease?.committed_segment, 3, 'the group carries the segment it read last');
  });

  test('a range is read by time, topic, type and key, page by page, and resumes from its cursor', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db, 4);
    const from = new Date(Date.now() - 1000);
    await broker.publish([
      message('a1', 'u1', 'click'),
      message('a2', 'u2', 'page_view'),
      message('c1', 'm1', 'molecule_submitted', 'chemical'),
    ]);
    await broker.log.roll(0);
    await broker.publish([message('a3', 'u1', 'click'), message('a4', 'u3', 'click')]);
    // A dead letter's replay (a later generation) is not part of a replay of the range.
    await broker.publish([{ ...message('a1', 'u1', 'click'), generation: 1 }]);
    const to = new Date(Date.now() + 1000);
    const selection: LogSelection = { from, to, topics: ['analytics'], types: ['click'] };

    const first = await broker.log.open(selection, undefined);
    const page1 = await first.next(2);
    assert.equal(page1.messages.length, 2);
    assert.equal(page1.done, false);
    // Another reader, as a resumed replay would open one, goes on from the cursor.
    const resumed = await broker.log.open(selection, page1.cursor);
    const rest = await resumed.next(10);
    assert.equal(rest.done, true);
    const ids = [...page1.messages, ...rest.messages].map((m) => `${m.id}:${m.generation}`);
    assert.deepEqual(ids.sort(), ['a1:0', 'a3:0', 'a4:0']);

    const byKey = await broker.log.open(
      { ...selection, types: undefined, keys: ['u1'] },
      undefined,
    );
    const u1 = await byKey.next(10);
    assert.deepEqual(
      u1.messages.map((m) => m.id),
      ['a1', 'a3'],
      'one key, in its order',
    );
    const none = await broker.log.open(
      { from: to, to: new Date(to.getTime() + 1000), topics: ['analytics'] },
      undefined,
    );
    assert.deepEqual((await none.next(10)).messages, []);
  });

  test('a segment whose drop a crash interrupted (detached, not dropped) is finished by the next pass', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db);
    await broker.publish([message('a', 'u1')]);
    await broker.log.roll(0);
    await drain(broker, 'processors');
    await db.query('ALTER TABLE raw_events DETACH PARTITION raw_events_s1');
    const report = await broker.log.prune(future());
    assert.equal(report.count, 1);
    const [gone] = await db.query<{ t: string | null }>(`SELECT to_regclass('raw_events_s1') AS t`);
    assert.equal(gone?.t, null);
  });

  test('no segment younger than the dedupe window goes, whatever the retention: its rows are the window', async (t) => {
    const db = await database.open(t);
    const broker = await openBroker(db, 2, 3_600_000);
    await broker.publish([message('a', 'u1')]);
    await broker.log.roll(0);
    await drain(broker, 'processors');
    const report = await broker.log.prune(future());
    assert.equal(report.count, 0);
    assert.ok(report.cutoff.getTime() < Date.now() - 3_000_000, 'the cutoff moved back a window');
    assert.ok((await tables(db)).includes('raw_events_s1'));
    const [again] = await broker.publish([message('a', 'u1')]);
    assert.equal(again?.status, 'duplicate');
  });
});
