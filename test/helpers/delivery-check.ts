/**
 * Delivery checking the way Kafka's own system tests do it: log every acknowledged (202) event
 * id while a fault is injected, then compare with what the database holds afterwards.
 *
 * - lost = acknowledged − persisted must be empty;
 * - duplicates: no event may have more than one effect. `processed_events` must hold each id
 *   once, and the analytics rollups (which the worker bumps in the statement that persists a
 *   batch, from the rows it actually inserted) must count each event type exactly as many
 *   times as there are processed rows of it — a redelivery that took effect twice shows up as
 *   a surplus there (fault loads give every key its own event type, so this is per key);
 * - reorders: the per-key sequence number (`properties.seq`) must never go down in processing
 *   order (processing time, then log position).
 */
import assert from 'node:assert/strict';
import pg from 'pg';

/** Every event id the API answered 202 for, and the (key, seq) each one carried. */
export class DeliveryLog {
  readonly acknowledged = new Set<string>();
  readonly sent = new Map<string, { key: string; seq: number }>();

  recordSent(id: string, key: string, seq: number): void {
    this.sent.set(id, { key, seq });
  }

  acknowledge(ids: Iterable<string>): void {
    for (const id of ids) this.acknowledged.add(id);
  }
}

export interface Reorder {
  key: string;
  /** The sequence number processed before … */
  previous: number;
  /** … this smaller one. */
  seq: number;
}

export interface DeliveryReport {
  acknowledged: number;
  persisted: number;
  /** Acknowledged but not persisted: must be empty. */
  lost: string[];
  /** Event ids with more than one processed row: must be empty. */
  duplicateRows: string[];
  /** Event types whose rollup counts more events than there are processed rows: must be empty. */
  duplicateEffects: { type: string; processed: number; counted: number }[];
  /** Total events counted by the daily rollup of the topic vs processed rows. */
  rollupTotal: number;
  reorders: Reorder[];
  /** Persisted but never acknowledged (a request whose answer was lost): allowed. */
  unacknowledgedPersisted: number;
  deadLetters: number;
}

export interface CheckOptions {
  /** A connection string that reaches the database the workers wrote to. */
  databaseUrl: string;
  schema: string;
  /** The topic the load was sent to (rollups are per topic). Default `events`. */
  topic?: string;
}

/** Reads what the database holds and compares it with the log; see the module comment. */
export async function checkDelivery(
  log: DeliveryLog,
  options: CheckOptions,
): Promise<DeliveryReport> {
  const { schema } = options;
  const topic = options.topic ?? 'events';
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    const rows = (
      await client.query<{ event_id: string; key: string; event_type: string; seq: string | null }>(
        `SELECT event_id, key, event_type, payload->'properties'->>'seq' AS seq
         FROM ${schema}.processed_events WHERE topic = $1
         ORDER BY processed_at, source_partition, source_offset`,
        [topic],
      )
    ).rows;
    const persisted = new Set<string>();
    const duplicateRows: string[] = [];
    const perType = new Map<string, number>();
    const lastSeq = new Map<string, number>();
    const reorders: Reorder[] = [];
    for (const row of rows) {
      if (persisted.has(row.event_id)) duplicateRows.push(row.event_id);
      persisted.add(row.event_id);
      perType.set(row.event_type, (perType.get(row.event_type) ?? 0) + 1);
      if (row.seq === null) continue;
      const seq = Number(row.seq);
      const previous = lastSeq.get(row.key);
      if (previous !== undefined && seq < previous) reorders.push({ key: row.key, previous, seq });
      lastSeq.set(row.key, seq);
    }

    // The rollups count what each persisting statement inserted; a second effect of one event
    // would count it twice. Fault loads give each key its own event type, so the daily count
    // per event type is a per-key count of effects.
    const counted = (
      await client.query<{ event_type: string; n: string }>(
        `SELECT event_type, sum(n) AS n FROM ${schema}.analytics_counts
         WHERE grain = 'day' AND topic = $1 GROUP BY event_type`,
        [topic],
      )
    ).rows;
    const duplicateEffects: DeliveryReport['duplicateEffects'] = [];
    for (const { event_type: type, n } of counted) {
      const processed = perType.get(type) ?? 0;
      if (Number(n) > processed) duplicateEffects.push({ type, processed, counted: Number(n) });
    }
    const [total] = (
      await client.query<{ n: string | null }>(
        `SELECT sum(n) AS n FROM ${schema}.analytics_counts WHERE grain = 'day' AND topic = $1`,
        [topic],
      )
    ).rows;
    const [dead] = (
      await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${schema}.failed_events WHERE status = 'dead'`,
      )
    ).rows;

    const lost = [...log.acknowledged].filter((id) => !persisted.has(id));
    let unacknowledgedPersisted = 0;
    for (const id of persisted) if (!log.acknowledged.has(id)) unacknowledgedPersisted++;
    return {
      acknowledged: log.acknowledged.size,
      persisted: persisted.size,
      lost,
      duplicateRows,
      duplicateEffects,
      rollupTotal: Number(total?.n ?? 0),
      reorders,
      unacknowledgedPersisted,
      deadLetters: dead?.n ?? 0,
    };
  } finally {
    await client.end();
  }
}

/** Fails with a readable message unless nothing was lost, duplicated or reordered. */
export function assertDelivery(
  report: DeliveryReport,
  { minAcknowledged = 1, deadLetters = 0 }: { minAcknowledged?: number; deadLetters?: number } = {},
): void {
  const summary = JSON.stringify({ ...report, lost: report.lost.slice(0, 10) });
  assert.ok(
    report.acknowledged >= minAcknowledged,
    `at least ${minAcknowledged} events acknowledged: ${summary}`,
  );
  assert.deepEqual(report.lost.slice(0, 20), [], `acknowledged − persisted is empty: ${summary}`);
  assert.deepEqual(report.duplicateRows, [], 'each event id is processed once');
  assert.deepEqual(report.duplicateEffects, [], 'no event took effect twice (rollups per type)');
  assert.equal(
    report.rollupTotal,
    report.persisted,
    `the rollups count every processed event exactly once: ${summary}`,
  );
  assert.deepEqual(report.reorders.slice(0, 20), [], 'per-key sequence never goes down');
  assert.equal(report.deadLetters, deadLetters, `dead letters: ${summary}`);
}

/**
 * Waits until the database holds at least `expected` processed events of the topic and the
 * processors' queue is empty, or `timeoutMs` passes. Never throws on timeout: the check that
 * follows says what is missing, which is more useful than "timed out".
 */
export async function waitForProcessed(
  options: CheckOptions & { expected: number; timeoutMs: number },
): Promise<{ processed: number; waitedMs: number }> {
  const started = Date.now();
  let processed = 0;
  while (Date.now() - started < options.timeoutMs) {
    // A client per poll: the database may be the thing being restarted.
    const client = new pg.Client({ connectionString: options.databaseUrl });
    try {
      await client.connect();
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${options.schema}.processed_events WHERE topic = $1`,
        [options.topic ?? 'events'],
      );
      processed = rows[0]?.n ?? 0;
    } catch {
      // not reachable yet
    } finally {
      await client.end().catch(() => {});
    }
    if (processed >= options.expected) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { processed, waitedMs: Date.now() - started };
}
