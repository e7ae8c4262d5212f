import { TOPICS } from '../../domain/events.ts';
import { uuidv7 } from '../../domain/ids.ts';
import {
  checkSelection,
  isFinished,
  REPLAY_ACTIONS,
  type Replay,
  type ReplayAction,
  type ReplayTarget,
  TARGET_TOPICS,
} from '../../domain/replays.ts';
import { USERS_TOPIC } from '../../domain/users.ts';
import { ErrorCodes, HeraldError } from '../../errors.ts';
import type { BrokerLog } from '../../ports/broker-log.ts';
import type { WebhookEndpoint } from '../../ports/notification-store.ts';
import type { ReplayStore } from '../../ports/replay-store.ts';

export interface ReplayRequest {
  target: ReplayTarget;
  endpointId?: string;
  from: string;
  to: string;
  topics?: string[];
  types?: string[];
  keys?: string[];
  ratePerSecond?: number;
  dryRun?: boolean;
}

export interface ReplayServiceOptions {
  /** Whether the worker role runs the chemistry agents (AGENTS_ENABLED): the agent target. */
  agentsEnabled: boolean;
  /** The clock (tests set their own). */
  now?: () => Date;
  /** Called when a replay is created or resumed (wakes a runner in this process). */
  onRunnable?: () => void;
}

/** A range that reaches before what the log still holds: refused, naming the bound. */
export class OutsideRetention extends HeraldError {
  readonly retainedSince: Date;

  constructor(from: string, retainedSince: Date) {
    super(
      ErrorCodes.VALIDATION,
      `from: ${from} is before the log's retention: events accepted before ${retainedSince.toISOString()} may be gone; replay from that time or later`,
      { details: { field: 'from', retainedSince: retainedSince.toISOString() } },
    );
    this.retainedSince = retainedSince;
  }
}

/**
 * Replays of a range, as the admin API and `herald replay` ask for them: checked (target,
 * endpoint, range within retention), recorded with who asked, then run by a worker
 * (runner.ts). Pausing, resuming and cancelling are moves of the recorded replay.
 */
export class ReplayService {
  readonly #store: ReplayStore;
  readonly #log: BrokerLog;
  readonly #endpoint: (id: string) => Promise<WebhookEndpoint | undefined>;
  readonly #options: ReplayServiceOptions;

  constructor(
    store: ReplayStore,
    log: BrokerLog,
    endpoint: (id: string) => Promise<WebhookEndpoint | undefined>,
    options: ReplayServiceOptions,
  ) {
    this.#store = store;
    this.#log = log;
    this.#endpoint = endpoint;
    this.#options = options;
  }

  async create(request: ReplayRequest, actor: string): Promise<Replay> {
    const now = this.#options.now?.() ?? new Date();
    const target = request.target;
    if (target === 'agent' && !this.#options.agentsEnabled) {
      throw new HeraldError(
        ErrorCodes.VALIDATION,
        'target: the agent target needs the chemistry agents (AGENTS_ENABLED=true on the workers)',
        { details: { field: 'target' } },
      );
    }
    let endpointId: string | null = null;
    if (target === 'webhook') {
      if (request.endpointId === undefined) {
        throw new HeraldError(
          ErrorCodes.VALIDATION,
          'endpoint_id: required by the webhook target',
          {
            details: { field: 'endpoint_id' },
          },
        );
      }
      const endpoint = await this.#endpoint(request.endpointId);
      if (endpoint === undefined) {
        throw new HeraldError(
          ErrorCodes.NOT_FOUND,
          `no webhook endpoint with id "${request.endpointId}"`,
        );
      }
      if (endpoint.disabledAt !== null) {
        throw new HeraldError(
          ErrorCodes.VALIDATION,
          `endpoint_id: the endpoint is disabled; enable it before a backfill`,
          { details: { field: 'endpoint_id' } },
        );
      }
      endpointId = endpoint.id;
    }
    const selection = checkSelection(
      target,
      {
        from: request.from,
        to: request.to,
        topics: request.topics ?? defaultTopics(target),
        types: request.types ?? null,
        keys: request.keys ?? null,
      },
      now,
    );
    const { retainedSince } = await this.#log.status();
    if (retainedSince !== null && Date.parse(selection.from) < retainedSince.getTime()) {
      throw new OutsideRetention(selection.from, retainedSince);
    }
    const replay = await this.#store.create({
      id: uuidv7(),
      target,
      endpointId,
      selection,
      ratePerSecond: request.ratePerSecond ?? 0,
      dryRun: request.dryRun ?? false,
      createdBy: actor,
    });
    this.#options.onRunnable?.();
    return replay;
  }

  list(limit: number): Promise<Replay[]> {
    return this.#store.list(limit);
  }

  async get(id: string): Promise<Replay> {
    const replay = await this.#store.get(id);
    if (replay === undefined) throw notFound(id);
    return replay;
  }

  /** Pauses, resumes or cancels; refused (422) when the replay's status does not allow it. */
  async act(id: string, action: ReplayAction, actor: string): Promise<Replay> {
    const before = await this.get(id);
    const allowed: readonly string[] = REPLAY_ACTIONS[action].from;
    if (!allowed.includes(before.status)) {
      throw new HeraldError(
        ErrorCodes.VALIDATION,
        `cannot ${action} a replay that is ${before.status}${isFinished(before.status) ? ' (finished)' : ''}`,
        { details: { field: 'status' } },
      );
    }
    const after = (await this.#store.act(id, action, actor)) ?? before;
    if (action === 'resume') this.#options.onRunnable?.();
    return after;
  }
}

function defaultTopics(target: ReplayTarget): string[] {
  return [...(TARGET_TOPICS[target] ?? [...TOPICS, USERS_TOPIC])];
}

const notFound = (id: string) => new HeraldError(ErrorCodes.NOT_FOUND, `no replay with id "${id}"`);
