/**
 * Where replays of a range are recorded, with their cursor, and where the effects a replay keeps
 * in Herald's database are written together with that cursor
 * (src/adapters/store/postgres/replays.ts).
 */
import type {
  Replay,
  ReplayAction,
  ReplayProgress,
  ReplaySample,
  ReplaySelection,
  ReplayStatus,
  ReplayTarget,
} from '../domain/replays.ts';
import type { LogCursor } from './broker-log.ts';
import type { NewDelivery } from './notification-store.ts';

export interface NewReplay {
  id: string;
  target: ReplayTarget;
  endpointId: string | null;
  selection: ReplaySelection;
  ratePerSecond: number;
  dryRun: boolean;
  createdBy: string;
}

/** A replay as its runner holds it: with the cursor to go on from. */
export interface ClaimedReplay extends Replay {
  cursor: LogCursor | null;
}

/** One batch's worth: where the cursor goes and the progress after it. */
export interface ReplayBatch {
  id: string;
  owner: string;
  leaseMs: number;
  cursor: LogCursor;
  /**
   * The progress after this batch, given which events' deliveries turned out new (webhook: an
   * (event, endpoint) recorded meanwhile by anyone is kept, and counts as already delivered).
   */
  tally(newDeliveries: ReadonlySet<string>): ReplayProgress;
  samples: ReplaySample[];
  /** The selection is read to its end: the replay is complete. */
  done: boolean;
  /** Re-derived enrichment to write (target pipeline), only where it changed. */
  enrichment?: { eventId: string; enrichment: Record<string, unknown> }[];
  /** Webhook deliveries to record (target webhook); an existing (event, endpoint) is kept. */
  deliveries?: NewDelivery[];
}

export interface ReplayStore {
  create(replay: NewReplay): Promise<Replay>;
  get(id: string): Promise<Replay | undefined>;
  list(limit: number): Promise<Replay[]>;
  /**
   * Moves a replay by an operator's action (recorded with `actor`) if its status allows; the
   * replay as it is afterwards, or undefined when there is none.
   */
  act(id: string, action: ReplayAction, actor: string): Promise<Replay | undefined>;
  /**
   * Takes the oldest runnable replay (pending, or running with no live lease: its runner died)
   * to one of `targets` for `owner` for `leaseMs`, marking it running.
   */
  claim(
    owner: string,
    leaseMs: number,
    targets: readonly ReplayTarget[],
  ): Promise<ClaimedReplay | undefined>;
  /** Extends the lease while `owner` holds it (a long batch); false when it was lost. */
  renew(id: string, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * Commits a batch: its effects (enrichment, deliveries) and the cursor and progress, in one
   * transaction, only while `owner` holds the lease and the replay is still running. Returns
   * the progress committed, or undefined when nothing was (paused, cancelled or taken over
   * meanwhile: the effects are rolled back).
   */
  commit(batch: ReplayBatch): Promise<ReplayProgress | undefined>;
  /**
   * Gives the lease back (stopping, paused): the replay goes on from its cursor when claimed
   * again. With `error`, records it; `fatal` ends the replay as failed (it cannot go on).
   */
  release(id: string, owner: string, error?: { message: string; fatal: boolean }): Promise<void>;
  /** The stored enrichment and processing time of processed events, by id (target pipeline). */
  processedRows(
    ids: readonly string[],
  ): Promise<Map<string, { enrichment: Record<string, unknown>; processedAt: Date }>>;
  /** Of `ids`, those with a webhook delivery to `endpointId` already (target webhook). */
  deliveredTo(endpointId: string, ids: readonly string[]): Promise<Set<string>>;
  /** Of `ids`, those this replay already ran the agent on (target agent, after a restart). */
  agentRunsOf(replayId: string, ids: readonly string[]): Promise<Set<string>>;
  /** The replay's status now (the runner checks between batches). */
  statusOf(id: string): Promise<ReplayStatus | undefined>;
}
