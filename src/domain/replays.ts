/**
 * Replays of a range of the log (issue #20): what can be asked, what a replay's states are and
 * which moves between them an operator may make, and what each target does with an event. No
 * I/O: the service (src/app/replay/) applies these rules.
 */
import { ErrorCodes, HeraldError } from '../errors.ts';

/**
 * Where replayed events go: the chemistry agent (re-enrich), one webhook endpoint (backfill,
 * with each event's original webhook-id), or the pipeline (re-derive processed rows'
 * enrichment in place).
 */
export const REPLAY_TARGETS = ['agent', 'webhook', 'pipeline'] as const;
export type ReplayTarget = (typeof REPLAY_TARGETS)[number];

export const REPLAY_STATUSES = [
  'pending',
  'running',
  'paused',
  'cancelled',
  'completed',
  'failed',
] as const;
export type ReplayStatus = (typeof REPLAY_STATUSES)[number];

/** What became of one event, by target. "Sent" outcomes are the replay's effects. */
export const REPLAY_OUTCOMES = {
  agent: { sent: ['agent_run'], skipped: ['no_formula', 'already_run'] },
  webhook: { sent: ['delivery_queued'], skipped: ['already_delivered', 'not_subscribed'] },
  pipeline: { sent: ['rederived'], skipped: ['unchanged', 'not_processed', 'now_invalid'] },
} as const satisfies Record<ReplayTarget, { sent: readonly string[]; skipped: readonly string[] }>;

export type ReplayOutcome =
  | (typeof REPLAY_OUTCOMES)[ReplayTarget]['sent'][number]
  | (typeof REPLAY_OUTCOMES)[ReplayTarget]['skipped'][number];

export function isSent(outcome: ReplayOutcome): boolean {
  return Object.values(REPLAY_OUTCOMES).some((o) =>
    (o.sent as readonly string[]).includes(outcome),
  );
}

export interface ReplaySelection {
  from: string;
  to: string;
  topics: string[];
  types: string[] | null;
  keys: string[] | null;
}

export interface ReplayProgress {
  /** Events of the selection read from the log so far. */
  read: number;
  sent: number;
  skipped: number;
  byType: Record<string, { sent: number; skipped: number }>;
  outcomes: Partial<Record<ReplayOutcome, number>>;
}

/** A change a pipeline replay makes (or would make) to one processed row. */
export interface ReplaySample {
  eventId: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

export interface Replay {
  id: string;
  target: ReplayTarget;
  /** The webhook endpoint (target webhook). */
  endpointId: string | null;
  selection: ReplaySelection;
  /** Events per second at most; 0 = as fast as the target takes them. */
  ratePerSecond: number;
  /** Counts what the replay would do, changes nothing. */
  dryRun: boolean;
  status: ReplayStatus;
  /** Who asked: the API key's name and id, or `anonymous` when keys are off. */
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: ReplayProgress;
  samples: ReplaySample[];
  lastError: string | null;
  actions: { at: string; action: string; actor: string }[];
}

/** Topics each target can take: the agent reads chemical events only. */
export const TARGET_TOPICS: Record<ReplayTarget, readonly string[] | undefined> = {
  agent: ['chemical'],
  pipeline: ['analytics', 'chemical', 'events'],
  webhook: undefined,
};

/** The operator's moves: which statuses each leaves, and where it goes. */
export const REPLAY_ACTIONS = {
  pause: { from: ['pending', 'running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['pending', 'running', 'paused'], to: 'cancelled' },
} as const satisfies Record<string, { from: readonly ReplayStatus[]; to: ReplayStatus }>;
export type ReplayAction = keyof typeof REPLAY_ACTIONS;

export function isFinished(status: ReplayStatus): boolean {
  return status === 'cancelled' || status === 'completed' || status === 'failed';
}

const invalid = (field: string, message: string) =>
  new HeraldError(ErrorCodes.VALIDATION, `${field}: ${message}`, { details: { field } });

/**
 * Checks a requested selection against a target and the clock: a range that ends after it
 * starts and not in the future (events accepted later are not part of the replay), topics the
 * target can take.
 */
export function checkSelection(
  target: ReplayTarget,
  selection: ReplaySelection,
  now: Date,
): ReplaySelection {
  const from = Date.parse(selection.from);
  const to = Date.parse(selection.to);
  if (Number.isNaN(from)) throw invalid('from', 'not a date-time');
  if (Number.isNaN(to)) throw invalid('to', 'not a date-time');
  if (to <= from) throw invalid('to', 'must be after from');
  if (to > now.getTime()) throw invalid('to', 'must not be in the future');
  const allowed = TARGET_TOPICS[target];
  if (selection.topics.length === 0) throw invalid('topics', 'name at least one topic');
  for (const topic of selection.topics) {
    if (allowed !== undefined && !allowed.includes(topic)) {
      throw invalid('topics', `the ${target} target takes ${allowed.join(', ')}, not "${topic}"`);
    }
  }
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    topics: [...new Set(selection.topics)],
    types: selection.types === null ? null : [...new Set(selection.types)],
    keys: selection.keys === null ? null : [...new Set(selection.keys)],
  };
}

export function emptyProgress(): ReplayProgress {
  return { read: 0, sent: 0, skipped: 0, byType: {}, outcomes: {} };
}

/** Adds one batch's outcomes (event type and outcome per event read) to a progress. */
export function addOutcomes(
  progress: ReplayProgress,
  outcomes: readonly { type: string; outcome: ReplayOutcome }[],
): ReplayProgress {
  const next: ReplayProgress = {
    read: progress.read + outcomes.length,
    sent: progress.sent,
    skipped: progress.skipped,
    byType: { ...progress.byType },
    outcomes: { ...progress.outcomes },
  };
  for (const { type, outcome } of outcomes) {
    const sent = isSent(outcome);
    const counts = { ...(next.byType[type] ?? { sent: 0, skipped: 0 }) };
    if (sent) {
      next.sent++;
      counts.sent++;
    } else {
      next.skipped++;
      counts.skipped++;
    }
    next.byType[type] = counts;
    next.outcomes[outcome] = (next.outcomes[outcome] ?? 0) + 1;
  }
  return next;
}

/** JSON with keys in order: two enrichments are the same when their canonical forms are. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
