import { uuidv7 } from '../../domain/ids.ts';
import { subscribes, userFacts, webhookBody } from '../../domain/notifications.ts';
import { canonicalJson, type ReplayOutcome, type ReplaySample } from '../../domain/replays.ts';
import { USERS_TOPIC } from '../../domain/users.ts';
import { ErrorCodes, HeraldError } from '../../errors.ts';
import type { DeliveredMessage } from '../../ports/broker.ts';
import type { NewDelivery, WebhookEndpoint } from '../../ports/notification-store.ts';
import type { ClaimedReplay, ReplayStore } from '../../ports/replay-store.ts';
import { processMessage, type Stage } from '../pipeline.ts';

/** What a target makes of one batch, before it is committed with the cursor. */
export interface PreparedBatch {
  /** Re-derived enrichment to write (pipeline). */
  enrichment?: { eventId: string; enrichment: Record<string, unknown> }[];
  /** Webhook deliveries to record (webhook). */
  deliveries?: NewDelivery[];
  samples?: ReplaySample[];
  /** Each event's outcome, given which deliveries turned out new when recorded. */
  outcomes(newDeliveries: ReadonlySet<string>): { type: string; outcome: ReplayOutcome }[];
}

/**
 * A replay target. `prepare` decides what each event gets; with `dryRun` it changes nothing,
 * and what it reports is what the same batch would do for real. Effects kept in Herald's
 * database come back in the batch (committed with the cursor, exactly once); the agent's runs
 * happen here, each recording the replay, so that a batch redone after a crash skips them.
 */
export interface ReplayTargetHandler {
  /** Events per batch this target takes well (an agent run may call an LLM). */
  readonly batchSize: number;
  prepare(
    replay: ClaimedReplay,
    batch: DeliveredMessage[],
    dryRun: boolean,
  ): Promise<PreparedBatch>;
}

const fixed = (outcomes: { type: string; outcome: ReplayOutcome }[]) => () => outcomes;

/**
 * The pipeline: re-runs the worker's stages on each processed event, as of when it was
 * processed (so the times in its enrichment stay the same), and rewrites the processed row's
 * enrichment where it changed. Nothing is inserted, so no analytics rollup moves: a replayed
 * event is not counted again. Events without a processed row (dead-lettered, not yet
 * processed) are left to their own path; events the stages refuse now are left as they are.
 */
export class PipelineTarget implements ReplayTargetHandler {
  readonly batchSize = 500;
  readonly #store: ReplayStore;
  readonly #stages: readonly Stage[];

  constructor(store: ReplayStore, stages: readonly Stage[]) {
    this.#store = store;
    this.#stages = stages;
  }

  async prepare(_replay: ClaimedReplay, batch: DeliveredMessage[], dryRun: boolean) {
    const stored = await this.#store.processedRows(batch.map((m) => m.id));
    const enrichment: { eventId: string; enrichment: Record<string, unknown> }[] = [];
    const samples: ReplaySample[] = [];
    const outcomes: { type: string; outcome: ReplayOutcome }[] = [];
    // An id twice in one batch (a resend past the dedupe window) is one row: changed once.
    const done = new Set<string>();
    for (const message of batch) {
      const row = stored.get(message.id);
      if (row === undefined) {
        outcomes.push({ type: message.type, outcome: 'not_processed' });
        continue;
      }
      const result = await processMessage(message, this.#stages, row.processedAt);
      if (result.kind !== 'processed') {
        outcomes.push({ type: message.type, outcome: 'now_invalid' });
        continue;
      }
      const after = result.event.enrichment;
      if (done.has(message.id) || canonicalJson(after) === canonicalJson(row.enrichment)) {
        outcomes.push({ type: message.type, outcome: 'unchanged' });
        continue;
      }
      done.add(message.id);
      outcomes.push({ type: message.type, outcome: 'rederived' });
      enrichment.push({ eventId: message.id, enrichment: after });
      samples.push({ eventId: message.id, before: row.enrichment, after });
    }
    return { enrichment: dryRun ? [] : enrichment, samples, outcomes: fixed(outcomes) };
  }
}

/**
 * One webhook endpoint (a backfill): each event of a type the endpoint subscribes to becomes
 * a delivery, as the notification intake makes them: the same body, and the event id as its
 * `webhook-id`, so receivers deduplicate. An event already delivered to the endpoint (by the
 * intake or an earlier replay) keeps its delivery: (event, channel, endpoint) is the
 * delivery's idempotency key, and a replay resumed after a crash adds nothing twice.
 */
export class WebhookTarget implements ReplayTargetHandler {
  readonly batchSize = 500;
  readonly #store: ReplayStore;
  readonly #endpoint: (id: string) => Promise<WebhookEndpoint | undefined>;

  constructor(store: ReplayStore, endpoint: (id: string) => Promise<WebhookEndpoint | undefined>) {
    this.#store = store;
    this.#endpoint = endpoint;
  }

  async prepare(replay: ClaimedReplay, batch: DeliveredMessage[], dryRun: boolean) {
    const endpoint =
      replay.endpointId === null ? undefined : await this.#endpoint(replay.endpointId);
    if (endpoint === undefined) {
      throw new HeraldError(ErrorCodes.NOT_FOUND, `webhook endpoint ${replay.endpointId} is gone`);
    }
    if (endpoint.disabledAt !== null) {
      throw new HeraldError(
        ErrorCodes.VALIDATION,
        `webhook endpoint ${endpoint.id} is disabled${endpoint.disabledReason ? `: ${endpoint.disabledReason}` : ''}`,
      );
    }
    const wanted = batch.filter((m) => subscribes(endpoint.eventTypes, m.type));
    const already = await this.#store.deliveredTo(
      endpoint.id,
      wanted.map((m) => m.id),
    );
    const deliveries: NewDelivery[] = [];
    const first = new Set<string>();
    for (const message of wanted) {
      if (already.has(message.id) || first.has(message.id)) continue;
      first.add(message.id);
      const user = message.topic === USERS_TOPIC ? userFacts(message.value) : undefined;
      deliveries.push({
        id: uuidv7(),
        eventId: message.id,
        eventType: message.type,
        channel: 'webhook',
        recipient: endpoint.id,
        userId: user?.id ?? null,
        endpointId: endpoint.id,
        payload: {
          body: webhookBody(message.type, message.acceptedAt.toISOString(), message.value),
        },
        status: 'pending',
      });
    }
    const subscribed = new Set(wanted);
    return {
      deliveries: dryRun ? [] : deliveries,
      outcomes: (recorded: ReadonlySet<string>) => {
        const counted = new Set<string>();
        return batch.map((message) => {
          let outcome: ReplayOutcome;
          if (!subscribed.has(message)) outcome = 'not_subscribed';
          else if (counted.has(message.id)) outcome = 'already_delivered';
          else if (dryRun ? first.has(message.id) : recorded.has(message.id))
            outcome = 'delivery_queued';
          else outcome = 'already_delivered';
          counted.add(message.id);
          return { type: message.type, outcome };
        });
      },
    };
  }
}

/** What the agent target needs of the agents (app/agents/runner.ts). */
export interface AgentRerun {
  rerun(message: DeliveredMessage, replayId: string): Promise<'ran' | 'no_formula'>;
  hasMolecule(message: DeliveredMessage): Promise<boolean>;
}

/**
 * The chemistry agent (re-enrich): runs the agent on each chemical event again, the run naming
 * the replay; events this replay already ran it on (a batch redone after a crash) are skipped.
 * An LLM answer received but not yet recorded when the process died is asked for again: the
 * one effect a resumed replay can repeat.
 */
export class AgentTarget implements ReplayTargetHandler {
  readonly batchSize: number;
  readonly #store: ReplayStore;
  readonly #agents: AgentRerun;
  readonly #concurrency: number;

  constructor(store: ReplayStore, agents: AgentRerun, options: { concurrency: number }) {
    this.#store = store;
    this.#agents = agents;
    this.#concurrency = Math.max(1, options.concurrency);
    this.batchSize = Math.max(10, this.#concurrency * 10);
  }

  async prepare(replay: ClaimedReplay, batch: DeliveredMessage[], dryRun: boolean) {
    const ran = await this.#store.agentRunsOf(
      replay.id,
      batch.map((m) => m.id),
    );
    const outcomes: { type: string; outcome: ReplayOutcome }[] = batch.map((m) => ({
      type: m.type,
      outcome: 'already_run',
    }));
    // An id twice in one batch is one event: the agent runs once on it.
    const todo: { message: DeliveredMessage; index: number }[] = [];
    const seen = new Set<string>();
    for (const [index, message] of batch.entries()) {
      if (ran.has(message.id) || seen.has(message.id)) continue;
      seen.add(message.id);
      todo.push({ message, index });
    }
    let next = 0;
    const work = async () => {
      while (next < todo.length) {
        const item = todo[next++];
        if (item === undefined) return;
        const { message, index } = item;
        const run = dryRun
          ? (await this.#agents.hasMolecule(message))
            ? 'ran'
            : 'no_formula'
          : await this.#agents.rerun(message, replay.id);
        outcomes[index] = {
          type: message.type,
          outcome: run === 'ran' ? 'agent_run' : 'no_formula',
        };
      }
    };
    await Promise.all(Array.from({ length: this.#concurrency }, work));
    return { outcomes: fixed(outcomes) };
  }
}
