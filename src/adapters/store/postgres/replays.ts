import {
  REPLAY_ACTIONS,
  type Replay,
  type ReplayAction,
  type ReplayOutcome,
  type ReplayProgress,
  type ReplaySample,
  type ReplayStatus,
  type ReplayTarget,
} from '../../../domain/replays.ts';
import type { LogCursor } from '../../../ports/broker-log.ts';
import type { Database } from '../../../ports/database.ts';
import type {
  ClaimedReplay,
  NewReplay,
  ReplayBatch,
  ReplayStore,
} from '../../../ports/replay-store.ts';
import { insertDeliveries } from './notifications-sql.ts';
import * as sql from './replays-sql.ts';

type Timestamp = Date | string;

interface ReplayRow {
  id: string;
  target: ReplayTarget;
  endpoint_id: string | null;
  range_from: Timestamp;
  range_to: Timestamp;
  topics: string[];
  event_types: string[] | null;
  keys: string[] | null;
  rate_per_second: number;
  dry_run: boolean;
  status: ReplayStatus;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  events_read: number;
  sent: number;
  skipped: number;
  by_type: Record<string, { sent: number; skipped: number }>;
  outcomes: Partial<Record<ReplayOutcome, number>>;
  samples: ReplaySample[];
  last_error: string | null;
  cursor: LogCursor | null;
}

const iso = (value: Timestamp) => new Date(value).toISOString();
const isoOrNull = (value: Timestamp | null) => (value === null ? null : iso(value));

function toReplay(row: ReplayRow, actions: Replay['actions'] = []): Replay {
  return {
    id: row.id,
    target: row.target,
    endpointId: row.endpoint_id,
    selection: {
      from: iso(row.range_from),
      to: iso(row.range_to),
      topics: row.topics,
      types: row.event_types,
      keys: row.keys,
    },
    ratePerSecond: row.rate_per_second,
    dryRun: row.dry_run,
    status: row.status,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    startedAt: isoOrNull(row.started_at),
    finishedAt: isoOrNull(row.finished_at),
    progress: {
      read: Number(row.events_read),
      sent: Number(row.sent),
      skipped: Number(row.skipped),
      byType: row.by_type,
      outcomes: row.outcomes,
    },
    samples: row.samples,
    lastError: row.last_error,
    actions,
  };
}

/** Thrown inside a commit's transaction to roll back a batch the runner no longer owns. */
const NOT_OURS = new Error("the replay is no longer this runner's to commit");

/** Replays in Herald's database; a batch's effects and its cursor commit in one transaction. */
export class PostgresReplayStore implements ReplayStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(replay: NewReplay): Promise<Replay> {
    const [row] = await this.#db.query<ReplayRow>(sql.insertReplay, [
      replay.id,
      replay.target,
      replay.endpointId,
      replay.selection.from,
      replay.selection.to,
      replay.selection.topics,
      replay.selection.types,
      replay.selection.keys,
      replay.ratePerSecond,
      replay.dryRun,
      replay.createdBy,
    ]);
    if (row === undefined) throw new Error('the replay was not recorded');
    return (await this.get(row.id)) ?? toReplay(row);
  }

  async get(id: string): Promise<Replay | undefined> {
    const [row] = await this.#db.query<ReplayRow>(sql.getReplay, [id]);
    if (row === undefined) return undefined;
    const actions = await this.#actions([id]);
    return toReplay(row, actions.get(id));
  }

  async list(limit: number): Promise<Replay[]> {
    const rows = await this.#db.query<ReplayRow>(sql.listReplays, [limit]);
    const actions = await this.#actions(rows.map((r) => r.id));
    return rows.map((row) => toReplay(row, actions.get(row.id)));
  }

  async act(id: string, action: ReplayAction, actor: string): Promise<Replay | undefined> {
    const { from, to } = REPLAY_ACTIONS[action];
    await this.#db.query(sql.actOn, [id, action, [...from], to, actor]);
    return this.get(id);
  }

  async claim(
    owner: string,
    leaseMs: number,
    targets: readonly ReplayTarget[],
  ): Promise<ClaimedReplay | undefined> {
    if (targets.length === 0) return undefined;
    const [row] = await this.#db.query<ReplayRow>(sql.claimReplay, [owner, leaseMs, targets]);
    return row === undefined ? undefined : { ...toReplay(row), cursor: row.cursor };
  }

  async renew(id: string, owner: string, leaseMs: number): Promise<boolean> {
    return (await this.#db.query(sql.renew, [id, owner, leaseMs])).length > 0;
  }

  async commit(batch: ReplayBatch): Promise<ReplayProgress | undefined> {
    try {
      return await this.#db.transaction(async (tx) => {
        if (batch.enrichment !== undefined && batch.enrichment.length > 0) {
          await tx.query(sql.updateEnrichment, [
            JSON.stringify(
              batch.enrichment.map((e) => ({ event_id: e.eventId, enrichment: e.enrichment })),
            ),
          ]);
        }
        const newDeliveries = new Set<string>();
        const deliveries = batch.deliveries ?? [];
        if (deliveries.length > 0) {
          const rows = await tx.query<{ id: string }>(insertDeliveries, [
            deliveries.map((d) => d.id),
            deliveries.map((d) => d.eventId),
            deliveries.map((d) => d.eventType),
            deliveries.map((d) => d.channel),
            deliveries.map((d) => d.recipient),
            deliveries.map((d) => d.userId),
            deliveries.map((d) => d.endpointId),
            deliveries.map((d) => JSON.stringify(d.payload)),
            deliveries.map((d) => d.status),
            deliveries.map((d) => d.lastError ?? null),
          ]);
          const inserted = new Set(rows.map((r) => r.id));
          for (const d of deliveries) if (inserted.has(d.id)) newDeliveries.add(d.eventId);
        }
        const progress = batch.tally(newDeliveries);
        const [kept] = await tx.query(sql.commitProgress, [
          batch.id,
          batch.owner,
          JSON.stringify(batch.cursor),
          progress.read,
          progress.sent,
          progress.skipped,
          JSON.stringify(progress.byType),
          JSON.stringify(progress.outcomes),
          JSON.stringify(batch.samples),
          batch.done,
          batch.leaseMs,
        ]);
        // Paused, cancelled or taken over since the batch was read: not ours to commit.
        if (kept === undefined) throw NOT_OURS;
        return progress;
      });
    } catch (error) {
      if (error === NOT_OURS) return undefined;
      throw error;
    }
  }

  async release(
    id: string,
    owner: string,
    error?: { message: string; fatal: boolean },
  ): Promise<void> {
    await this.#db.query(sql.release, [id, owner, error?.message ?? null, error?.fatal ?? false]);
  }

  async processedRows(ids: readonly string[]) {
    if (ids.length === 0) return new Map();
    const rows = await this.#db.query<{
      event_id: string;
      enrichment: Record<string, unknown>;
      processed_at: Timestamp;
    }>(sql.processedRows, [ids]);
    return new Map(
      rows.map((r) => [
        r.event_id,
        { enrichment: r.enrichment, processedAt: new Date(r.processed_at) },
      ]),
    );
  }

  async deliveredTo(endpointId: string, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.#db.query<{ event_id: string }>(sql.deliveredTo, [endpointId, ids]);
    return new Set(rows.map((r) => r.event_id));
  }

  async agentRunsOf(replayId: string, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.#db.query<{ event_id: string }>(sql.agentRunsOf, [replayId, ids]);
    return new Set(rows.map((r) => r.event_id));
  }

  async statusOf(id: string): Promise<ReplayStatus | undefined> {
    const [row] = await this.#db.query<{ status: ReplayStatus }>(sql.statusOf, [id]);
    return row?.status;
  }

  async #actions(ids: readonly string[]): Promise<Map<string, Replay['actions']>> {
    const out = new Map<string, Replay['actions']>();
    if (ids.length === 0) return out;
    const rows = await this.#db.query<{
      replay_id: string;
      at: Timestamp;
      action: string;
      actor: string;
    }>(sql.actionsOf, [ids]);
    for (const r of rows) {
      out.set(r.replay_id, [
        ...(out.get(r.replay_id) ?? []),
        { at: iso(r.at), action: r.action, actor: r.actor },
      ]);
    }
    return out;
  }
}
