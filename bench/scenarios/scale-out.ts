/**
 * Scale-out on Kafka: several `herald api` and `herald worker` processes on one PostgreSQL
 * server (a fresh schema) and one Kafka cluster (a fresh BROKER_NAMESPACE, so fresh topics and
 * consumer groups), events flowing from a load generator while workers are SIGKILLed and added.
 * Then the delivery check Kafka's own system tests do: every acknowledged id logged, lost =
 * acknowledged − persisted must be empty, no event may take effect twice, and a key's sequence
 * numbers never go backwards, neither in the broker nor in the order they were persisted.
 *
 * The generator keeps each key's order the way a client must: key k's event n+1 is sent only
 * after event n was acknowledged (a failed request is retried with the same ids).
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { migrate } from '../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../src/adapters/postgres/server.ts';
import { WORKER_GROUP } from '../../src/platform/consumer-groups.ts';
import { dropSchema, POSTGRES_URL, withClient } from '../lib/postgres.ts';
import { type Service, startHerald } from '../lib/processes.ts';
import { type Context, fmt, type Scenario, type ScenarioResult } from '../lib/report.ts';

export interface ChaosStep {
  /** When: once this many events are persisted (a count, so a slow machine sees the same story). */
  atPersisted: number;
  action: 'kill' | 'add';
}

export interface ScaleOutOptions {
  /**
   * Events to send at least. The load goes on past them until every chaos step has happened,
   * every added worker consumes, and `eventsAfterChaos` more were acknowledged, so that every
   * step finds work flowing however slow the machine (or until `maxLoadMs` passes).
   */
  events: number;
  eventsAfterChaos: number;
  maxLoadMs: number;
  /** Events per second offered; undefined = as fast as the APIs acknowledge them. */
  rate?: number;
  apis: number;
  workers: number;
  partitions: number;
  /** Concurrent producers; each owns `keysPerLane` keys and sends one event per key a request. */
  lanes: number;
  keysPerLane: number;
  chaos: readonly ChaosStep[];
  /** KAFKA_SESSION_TIMEOUT_MS: how soon a killed worker's partitions move to the others. */
  sessionTimeoutMs: number;
  drainTimeoutMs: number;
  kafkaBrokers?: string;
  /** More settings for every Herald process. */
  env?: Record<string, string>;
  log(message: string): void;
}

export interface ChaosEvent {
  at_ms: number;
  action: 'kill' | 'add';
  worker: string;
  acknowledged_then: number;
  persisted_then: number;
  /** For an added worker: events acknowledged when it was consuming (undefined: it never was). */
  ready_acknowledged?: number;
}

/** A later event of a key persisted before an earlier one. */
export interface Reorder {
  key: string;
  partition: number;
  persisted_first: { seq: number; offset: string; tx: string };
  persisted_later: { seq: number; offset: string; tx: string };
}

export interface DeliveryCheck {
  acknowledged: number;
  persisted: number;
  /** Acknowledged but never persisted (must be empty). */
  lost: string[];
  /** Persisted but never acknowledged (a request that failed after its events were durable). */
  unacknowledged_persisted: number;
  /** Events in the daily rollups, which are bumped with each inserted row (must equal persisted). */
  rollup_counted: number;
  /** Events counted more than once by those rollups (must be 0). */
  duplicate_effects: number;
  /** Keys whose persisted order went backwards in sequence (must be empty). */
  reordered_keys: string[];
  /** The first such drop found, for diagnosis. */
  first_reorder: Reorder | undefined;
  /** Keys whose broker offsets are not in sequence order (must be empty). */
  offset_reordered_keys: string[];
  dead_lettered: number;
}

export interface ScaleOutReport {
  config: Record<string, unknown>;
  check: DeliveryCheck;
  chaos: ChaosEvent[];
  /** First request → last acknowledged event persisted. */
  seconds: number;
  persisted_per_s: number;
  accepted_per_s: number;
  load_seconds: number;
  drain_seconds: number;
  /** Longest time nothing was persisted while events waited (a rebalance after a kill). */
  longest_stall_ms: number;
  requests: { ok: number; retried: number; failed: number };
  workers_at_end: number;
  completed: boolean;
}

/** An acknowledged event: its key and its sequence number within the key. */
export interface Sent {
  key: string;
  seq: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runScaleOut(options: ScaleOutOptions): Promise<ScaleOutReport> {
  const run = randomBytes(4).toString('hex');
  const schema = `herald_scale_${run}`;
  const namespace = `scale-${run}`;
  const kafkaBrokers = options.kafkaBrokers ?? process.env.BENCH_KAFKA_BROKERS ?? '127.0.0.1:9092';
  const env: Record<string, string> = {
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    DATABASE_POOL_SIZE: '4',
    BROKER: 'kafka',
    KAFKA_BROKERS: kafkaBrokers,
    BROKER_NAMESPACE: namespace,
    QUEUE_PARTITIONS: String(options.partitions),
    KAFKA_SESSION_TIMEOUT_MS: String(options.sessionTimeoutMs),
    AGENTS_ENABLED: 'false',
    NOTIFICATIONS_ENABLED: 'false',
    // Six processes compile the same sources: Node's compile cache saves each about a third.
    NODE_COMPILE_CACHE: join(tmpdir(), 'herald-compile-cache'),
    ...options.env,
  };
  const { log } = options;
  const apis: Service[] = [];
  const workers: Service[] = [];
  let workerCount = 0;
  const starting: Promise<unknown>[] = [];
  /** Starts a worker; its name at once, the worker once it consumes. */
  const addWorker = () => {
    workerCount++;
    const name = `worker-${workerCount}`;
    const ready = startHerald('worker', env, { name }).then((worker) => {
      workers.push(worker);
      return worker;
    });
    starting.push(ready.catch(() => {}));
    return { name, ready };
  };
  const stopAll = async () => {
    await Promise.all(starting);
    // The run is over and checked: a short grace, then SIGKILL.
    await Promise.all([...apis, ...workers].map((s) => s.stop(3000)));
  };

  try {
    const booting = Date.now();
    // Migrated here first (what `herald migrate` does), so every process can start at once.
    const migrating = await openPostgres({ url: POSTGRES_URL, schema, poolSize: 1 });
    await migrate(migrating).finally(() => migrating.close());
    await Promise.all([
      ...Array.from({ length: options.apis }, (_, i) =>
        startHerald('api', env, { name: `api-${i + 1}` }).then((s) => apis.push(s)),
      ),
      ...Array.from({ length: options.workers }, () => addWorker().ready),
    ]);
    log(
      `${apis.length} APIs and ${workers.length} workers up in ${fmt((Date.now() - booting) / 1000)} s ` +
        `(schema ${schema}, ${namespace}.*)`,
    );

    return await withClient(async (db) => {
      const persistedCount = async () => {
        const r = await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${schema}.processed_events`,
        );
        return Number(r.rows[0]?.n ?? 0);
      };

      const acknowledged = new Map<string, Sent>();
      const requests = { ok: 0, retried: 0, failed: 0 };
      const rounds = Math.ceil(options.events / (options.lanes * options.keysPerLane));
      const planned = rounds * options.lanes * options.keysPerLane;
      const started = Date.now();
      const loadDeadline = started + options.maxLoadMs;
      const chaos: ChaosEvent[] = [];
      // Load flows until the chaos is over and has been followed by eventsAfterChaos events.
      const chaosOver = () =>
        chaos.length === options.chaos.length &&
        chaos.every((c) => c.action === 'kill' || c.ready_acknowledged !== undefined) &&
        acknowledged.size >=
          Math.max(...chaos.map((c) => c.ready_acknowledged ?? c.acknowledged_then)) +
            options.eventsAfterChaos;

      // Each lane sends a round (one event per key) every roundMs when paced.
      const roundMs =
        options.rate === undefined
          ? 0
          : (1000 * options.lanes * options.keysPerLane) / options.rate;
      const lane = async (laneIndex: number) => {
        const api = apis[laneIndex % apis.length]?.url ?? '';
        const keys = Array.from({ length: options.keysPerLane }, (_, k) => `key-${laneIndex}-${k}`);
        for (let seq = 0; (seq < rounds || !chaosOver()) && Date.now() < loadDeadline; seq++) {
          const due = started + seq * roundMs + (laneIndex * roundMs) / options.lanes;
          if (due > Date.now()) await sleep(due - Date.now());
          const events = keys.map((key) => ({
            id: `${run}-${key}-${seq}`,
            user_id: key,
            event_type: 'page_view',
            timestamp: '2024-01-01T12:00:00Z',
            metadata: { seq, lane: laneIndex, page: `/p/${seq % 10}` },
          }));
          const body = JSON.stringify({ events });
          let done = false;
          for (let attempt = 0; attempt < 20 && !done; attempt++) {
            if (attempt > 0) {
              requests.retried++;
              await sleep(100 * attempt);
            }
            try {
              const response = await fetch(`${api}/api/v1/events/batch`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body,
              });
              const text = await response.text();
              if (response.status !== 202) continue;
              const result = JSON.parse(text) as {
                results: { status: string; event_id?: string }[];
              };
              for (const [i, item] of result.results.entries()) {
                const event = events[i];
                if (
                  item.status === 'accepted' &&
                  event !== undefined &&
                  item.event_id === event.id
                ) {
                  acknowledged.set(event.id, { key: event.user_id, seq });
                }
              }
              requests.ok++;
              done = true;
            } catch {
              // connection refused or reset: retried with the same ids
            }
          }
          // Without an acknowledgement the key's next event may not follow it: stop the lane.
          if (!done) {
            requests.failed++;
            return;
          }
        }
      };

      // Chaos, driven by progress so a slow machine sees the same story as a fast one.
      const timeline: { at: number; persisted: number; acknowledged: number }[] = [];
      let loading = true;
      const chaosEvent = (action: 'kill' | 'add', worker: string, persisted: number) => ({
        at_ms: Date.now() - started,
        action,
        worker,
        acknowledged_then: acknowledged.size,
        persisted_then: persisted,
      });
      const monitor = (async () => {
        const steps = [...options.chaos].sort((a, b) => a.atPersisted - b.atPersisted);
        while (loading) {
          const persisted = await persistedCount();
          timeline.push({ at: Date.now() - started, persisted, acknowledged: acknowledged.size });
          const step = steps[0];
          if (step !== undefined && persisted >= step.atPersisted) {
            steps.shift();
            if (step.action === 'kill') {
              const victim = workers.find((w) => w.rssMiB() !== undefined);
              if (victim !== undefined) {
                process.kill(victim.pid, 'SIGKILL');
                log(`SIGKILL ${victim.name} at ${fmt(persisted)} persisted`);
                workers.splice(workers.indexOf(victim), 1);
                chaos.push(chaosEvent('kill', victim.name, persisted));
              }
            } else {
              // Not awaited: a process starting on a busy machine takes seconds, and the
              // next steps must not wait for it.
              const { name, ready } = addWorker();
              log(`adding ${name} at ${fmt(persisted)} persisted`);
              const added: ChaosEvent = chaosEvent('add', name, persisted);
              chaos.push(added);
              ready.then(
                () => {
                  added.ready_acknowledged = acknowledged.size;
                  log(`${name} consuming at ${fmt(acknowledged.size)} acknowledged`);
                },
                (error: unknown) => log(`${name} failed to start: ${error}`),
              );
            }
          }
          await sleep(250);
        }
      })();

      await Promise.all(Array.from({ length: options.lanes }, (_, i) => lane(i)));
      const loadEnd = Date.now();
      log(`${fmt(acknowledged.size)} events acknowledged in ${fmt((loadEnd - started) / 1000)} s`);

      // Drain: every acknowledged event persisted, or the timeout.
      const drainDeadline = Date.now() + options.drainTimeoutMs;
      let persistedAt: number | undefined;
      while (Date.now() < drainDeadline) {
        const persisted = await persistedCount();
        timeline.push({ at: Date.now() - started, persisted, acknowledged: acknowledged.size });
        if (persisted >= acknowledged.size && (await missing(db, schema, acknowledged)) === 0) {
          persistedAt = Date.now();
          break;
        }
        await sleep(200);
      }
      loading = false;
      await monitor;
      await Promise.all(starting);
      const end = persistedAt ?? Date.now();
      log(
        persistedAt === undefined
          ? `not everything was persisted within ${options.drainTimeoutMs} ms`
          : `all persisted ${fmt((end - loadEnd) / 1000)} s after the load ended`,
      );

      const check = await verify(db, schema, acknowledged);
      const seconds = (end - started) / 1000;
      return {
        config: {
          ...options,
          log: undefined,
          planned_events: planned,
          keys: options.lanes * options.keysPerLane,
          events_per_request: options.keysPerLane,
          herald_env: { ...env, DATABASE_URL: POSTGRES_URL },
        },
        check,
        chaos,
        seconds: round(seconds),
        persisted_per_s: Math.round(check.persisted / seconds),
        accepted_per_s: Math.round(acknowledged.size / ((loadEnd - started) / 1000)),
        load_seconds: round((loadEnd - started) / 1000),
        drain_seconds: round((end - loadEnd) / 1000),
        longest_stall_ms: longestStall(timeline),
        requests,
        workers_at_end: workers.length,
        completed: persistedAt !== undefined,
      };
    });
  } finally {
    await stopAll();
    if (process.env.HERALD_KEEP_TEST_DATA === undefined) {
      await dropSchema(schema).catch(() => {});
      await deleteNamespace(kafkaBrokers, namespace).catch(() => {});
    }
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Acknowledged ids not (yet) in processed_events. */
async function missing(
  db: import('pg').Client,
  schema: string,
  acknowledged: Map<string, Sent>,
): Promise<number> {
  const r = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM unnest($1::text[]) AS a(id)
     WHERE NOT EXISTS (SELECT 1 FROM ${schema}.processed_events p WHERE p.event_id = a.id)`,
    [[...acknowledged.keys()]],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** One persisted event, as the delivery check reads it. */
export interface PersistedRow {
  event_id: string;
  key: string;
  seq: number;
  source_partition: number;
  source_offset: string;
  /**
   * The inserting transaction's id (xmin). Transaction ids are handed out at a transaction's
   * first write, so they order the batches as they were written: a batch that waited on
   * another's rows gets its id after that one. (processed_at, when a batch began, does not:
   * two workers briefly sharing a partition during a rebalance begin theirs in any order.)
   */
  tx: string;
}

/** lost, duplicate effects and reorders, from what PostgreSQL holds. */
async function verify(
  db: import('pg').Client,
  schema: string,
  acknowledged: Map<string, Sent>,
): Promise<DeliveryCheck> {
  const rows = (
    await db.query<PersistedRow>(
      `SELECT event_id, key, (payload->'metadata'->>'seq')::int AS seq, source_partition,
              source_offset, xmin::text AS tx
       FROM ${schema}.processed_events`,
    )
  ).rows;
  // Each event's effect is its row and the rollups the statement persisting it bumped (only
  // for rows it actually inserted): an event that took effect twice shows as a daily count
  // above the number of rows.
  const counted = await db.query<{ n: string }>(
    `SELECT coalesce(sum(n), 0) AS n FROM ${schema}.analytics_counts WHERE grain = 'day'`,
  );
  const dead = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.failed_events`);
  return analyseDelivery(acknowledged, rows, {
    rollupCounted: Number(counted.rows[0]?.n ?? 0),
    deadLettered: Number(dead.rows[0]?.n ?? 0),
  });
}

/**
 * The delivery check over the acknowledged ids and the persisted rows: lost ids, and keys
 * whose sequence goes backwards in persisting order (processed_at, then offset) or in offsets.
 */
export function analyseDelivery(
  acknowledged: ReadonlyMap<string, Sent>,
  rows: readonly PersistedRow[],
  counts: { rollupCounted: number; deadLettered: number },
): DeliveryCheck {
  const persisted = new Set(rows.map((r) => r.event_id));
  const lost = [...acknowledged.keys()].filter((id) => !persisted.has(id));
  const unacknowledged = rows.filter((r) => !acknowledged.has(r.event_id)).length;
  const byKey = new Map<string, PersistedRow[]>();
  for (const row of rows) {
    const list = byKey.get(row.key) ?? [];
    list.push(row);
    byKey.set(row.key, list);
  }
  const reordered: string[] = [];
  const offsetReordered: string[] = [];
  let example: Reorder | undefined;
  for (const [key, list] of byKey) {
    const byPersisting = [...list].sort(
      (a, b) =>
        Number(BigInt(a.tx) - BigInt(b.tx)) ||
        Number(BigInt(a.source_offset) - BigInt(b.source_offset)),
    );
    const drop = byPersisting.findIndex((r, i) => i > 0 && r.seq < (byPersisting[i - 1]?.seq ?? 0));
    if (drop > 0) {
      reordered.push(key);
      const [before, after] = [byPersisting[drop - 1], byPersisting[drop]];
      example ??= before &&
        after && {
          key,
          partition: after.source_partition,
          persisted_first: { seq: before.seq, offset: before.source_offset, tx: before.tx },
          persisted_later: { seq: after.seq, offset: after.source_offset, tx: after.tx },
        };
    }
    const bySeq = [...list].sort((a, b) => a.seq - b.seq);
    if (
      bySeq.some(
        (r, i) => i > 0 && BigInt(r.source_offset) <= BigInt(bySeq[i - 1]?.source_offset ?? -1),
      )
    ) {
      offsetReordered.push(key);
    }
  }
  return {
    acknowledged: acknowledged.size,
    persisted: rows.length,
    lost,
    unacknowledged_persisted: unacknowledged,
    rollup_counted: counts.rollupCounted,
    duplicate_effects: Math.max(counts.rollupCounted - rows.length, 0),
    reordered_keys: reordered,
    first_reorder: example,
    offset_reordered_keys: offsetReordered,
    dead_lettered: counts.deadLettered,
  };
}

function longestStall(timeline: { at: number; persisted: number; acknowledged: number }[]) {
  let longest = 0;
  let since: number | undefined;
  let last = -1;
  for (const point of timeline) {
    if (point.persisted > last || point.persisted >= point.acknowledged) {
      since = undefined;
    } else {
      since ??= point.at;
      longest = Math.max(longest, point.at - since);
    }
    last = Math.max(last, point.persisted);
  }
  return longest;
}

/** Removes the run's topics and consumer groups from the shared cluster. */
async function deleteNamespace(brokers: string, namespace: string): Promise<void> {
  const admin = new Admin({
    clientId: 'herald-bench-cleanup',
    bootstrapBrokers: brokers.split(','),
  });
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${namespace}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    await admin.deleteGroups({ groups: [`${namespace}.${WORKER_GROUP}`] }).catch(() => {});
  } finally {
    await admin.close();
  }
}

export const scaleOut: Scenario = {
  name: 'scale-out',
  title: 'Scale-out on Kafka: 2 APIs, 4 workers, workers SIGKILLed and added mid-run',
  async run(context: Context): Promise<ScenarioResult> {
    const events = context.quick ? 4000 : 100_000;
    const at = (fraction: number) => Math.round(fraction * events);
    const options: ScaleOutOptions = {
      events,
      eventsAfterChaos: context.quick ? 1000 : 10_000,
      maxLoadMs: context.quick ? 60_000 : 600_000,
      apis: 2,
      workers: 4,
      partitions: 8,
      lanes: 8,
      keysPerLane: 50,
      chaos: [
        { atPersisted: at(0.2), action: 'kill' },
        { atPersisted: at(0.35), action: 'add' },
        { atPersisted: at(0.5), action: 'kill' },
        { atPersisted: at(0.5), action: 'kill' },
        { atPersisted: at(0.65), action: 'add' },
        { atPersisted: at(0.8), action: 'add' },
      ],
      sessionTimeoutMs: 10_000,
      drainTimeoutMs: 300_000,
      log: context.log,
    };
    const report = await runScaleOut(options);
    const c = report.check;
    const count = (action: string) => options.chaos.filter((s) => s.action === action).length;
    return {
      config: report.config,
      figures: { ...report },
      tables: [
        {
          title:
            `Scale-out on Kafka (${options.partitions} partitions), ${options.apis} × herald api + ` +
            `${options.workers} × herald worker, ${count('kill')} SIGKILLs and ${count('add')} workers added`,
          columns: [
            'events acknowledged',
            'persisted events/s',
            'accepted events/s',
            'seconds',
            'longest stall (s)',
            'lost',
            'rollup-counted',
            'duplicate effects',
            'reordered keys',
          ],
          rows: [
            [
              fmt(c.acknowledged),
              fmt(report.persisted_per_s),
              fmt(report.accepted_per_s),
              fmt(report.seconds),
              fmt(report.longest_stall_ms / 1000),
              c.lost.length,
              fmt(c.rollup_counted),
              c.duplicate_effects,
              c.reordered_keys.length + c.offset_reordered_keys.length,
            ],
          ],
        },
      ],
      notes: [
        `${options.lanes * options.keysPerLane} keys; each request carries one event per key of its lane, and a key's next event is sent only after the previous one was acknowledged.`,
        `Chaos at counts of events persisted: ${options.chaos.map((s) => `${s.action} at ${fmt(s.atPersisted)}`).join(', ')}; the load goes on until every step has happened, every added worker consumes, and ${fmt(options.eventsAfterChaos)} more events were acknowledged. KAFKA_SESSION_TIMEOUT_MS=${options.sessionTimeoutMs}: a killed worker's partitions wait that long before moving.`,
        'lost = acknowledged − persisted; duplicate effects = daily rollup counts (bumped in the statement that inserts the row, for inserted rows only) above the number of rows; reordered = keys whose sequence numbers go backwards in the order rows were written (inserting transaction, then offset) or in broker offsets.',
        `Requests: ${report.requests.ok} acknowledged, ${report.requests.retried} retries, ${report.requests.failed} given up. ${c.unacknowledged_persisted} events persisted without an acknowledgement (their request failed after they were durable).`,
        'Every process (6 Herald processes, Kafka, PostgreSQL, the load generator) shares the same 2 cores.',
      ],
    };
  },
};
