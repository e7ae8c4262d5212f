import { type Logger, withEventLogContext } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { traceBatch } from '../../observability/tracing.ts';
import type { AgentStore, NewAgentRun } from '../../ports/agent-store.ts';
import type { BatchOutcome, Broker, Consumer, DeliveredMessage } from '../../ports/broker.ts';
import type {
  AgentAnswer,
  ChemistryAgent,
  MoleculeFacts,
  StructureToolkit,
  TokenUsage,
} from '../../ports/llm.ts';
import { LlmError } from '../../ports/llm.ts';
import { type BackoffPolicy, fullJitterDelay } from '../backoff.ts';
import type { CircuitBreaker } from '../resilience/circuit-breaker.ts';
import { cacheKeyOf, moleculeFacts } from './facts.ts';

/** The consumer group of the agents: its own offsets, so agents never hold up processing. */
export const AGENT_GROUP = 'herald-agents';

/** A fallback is asked again this many times at most, then kept as the answer. */
export const MAX_REENRICHMENT_ATTEMPTS = 10;

export interface AgentRunnerOptions {
  consumerId: string;
  /** The LLM agent; undefined runs the offline agent alone (no key configured). */
  llm: ChemistryAgent | undefined;
  /** The LLM client's breaker: while open, agents fall back without asking. */
  breaker: CircuitBreaker | undefined;
  offline: ChemistryAgent;
  toolkit: StructureToolkit | undefined;
  batchSize: number;
  concurrency: number;
  /** Backoff while the agent store (the database) is unavailable. */
  retry: BackoffPolicy;
  /** How often fallback answers are sent to the LLM again; 0 disables the pass. */
  reenrichIntervalMs: number;
}

/**
 * Runs the chemistry agents on chemical events, as their own consumer group: each event's
 * molecule is described by the LLM agent (or served from the cache), or, when the provider is
 * unavailable (rate limits, errors, timeouts, an open circuit), by the offline agent, the run
 * marked for re-enrichment. A periodic pass asks the LLM again for those. Every run is
 * recorded; an event is never left waiting on the provider, and none is skipped.
 */
export class AgentRunner {
  readonly #store: AgentStore;
  readonly #metrics: Metrics;
  readonly #logger: Logger;
  readonly #options: AgentRunnerOptions;
  #consumer: Consumer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<number> | undefined;
  #storeFailures = 0;
  // Aborted on stop: a call waiting on a slow provider must not hold up a shutdown.
  readonly #stopping = new AbortController();

  constructor(store: AgentStore, metrics: Metrics, logger: Logger, options: AgentRunnerOptions) {
    this.#store = store;
    this.#metrics = metrics;
    this.#logger = logger;
    this.#options = options;
  }

  async start(broker: Broker): Promise<void> {
    const { consumerId, batchSize, concurrency, reenrichIntervalMs } = this.#options;
    this.#consumer = await broker.consume({
      group: AGENT_GROUP,
      consumerId,
      topics: ['chemical'],
      batchSize,
      concurrency,
      handler: (batch) => this.handle(batch),
      onError: (error) => this.#logger.error({ err: error }, 'agent consumer error'),
    });
    if (this.#options.llm && reenrichIntervalMs > 0) {
      this.#timer = setInterval(() => {
        this.reenrich().catch((error) =>
          this.#logger.warn({ err: error }, 're-enrichment pass failed'),
        );
      }, reenrichIntervalMs);
      this.#timer.unref();
    }
    this.#logger.info(
      {
        group: AGENT_GROUP,
        agent: this.#options.llm?.name ?? this.#options.offline.name,
        model: this.#options.llm?.model ?? this.#options.offline.model,
      },
      'agents started',
    );
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new Error('agents stopping'));
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#consumer?.stop();
    this.#consumer = undefined;
    await this.#pass?.catch(() => {});
  }

  async handle(batch: readonly DeliveredMessage[]): Promise<BatchOutcome> {
    let answered: Set<string>;
    try {
      answered = await this.#store.answeredEvents(batch.map((m) => m.id));
    } catch (error) {
      return this.#storeUnavailable(error, 0);
    }
    const traced = traceBatch(batch, 'agents', {
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': AGENT_GROUP,
    });
    try {
      for (const [index, message] of batch.entries()) {
        // A redelivered event already answered costs nothing.
        if (answered.has(message.id)) continue;
        const facts = await moleculeFacts(message.value, this.#options.toolkit);
        // No readable formula: the processing pipeline dead-letters the event with the reason.
        if (facts === undefined) continue;
        try {
          const context = { eventId: message.id, correlationId: message.headers.correlation_id };
          await traced.message(index, () =>
            withEventLogContext(context, () => this.#enrich(message.id, facts)),
          );
          answered.add(message.id);
        } catch (error) {
          // Stopping: the rest of the batch is delivered again to whoever takes over.
          if (this.#stopping.signal.aborted) return { handled: index };
          return this.#storeUnavailable(error, index);
        }
      }
    } finally {
      traced.end();
    }
    this.#storeFailures = 0;
    return { handled: batch.length };
  }

  /**
   * Runs the agent on one event again, whatever ran before (a replay re-enriching a range once
   * an LLM is configured); the run records `replayId`, so a replay resumed after a crash can
   * tell which events it did. 'no_formula' when the event has no molecule to describe. Throws
   * only if the store fails.
   */
  async rerun(message: DeliveredMessage, replayId: string): Promise<'ran' | 'no_formula'> {
    const facts = await moleculeFacts(message.value, this.#options.toolkit);
    if (facts === undefined) return 'no_formula';
    const context = { eventId: message.id, correlationId: message.headers.correlation_id };
    await withEventLogContext(context, () => this.#enrich(message.id, facts, replayId));
    return 'ran';
  }

  /** Whether `rerun` would run the agent on the event (a dry run's question). */
  async hasMolecule(message: DeliveredMessage): Promise<boolean> {
    return (await moleculeFacts(message.value, this.#options.toolkit)) !== undefined;
  }

  /** Describes one event's molecule and records the run(s). Throws only if the store fails. */
  async #enrich(eventId: string, facts: MoleculeFacts, replayId?: string): Promise<void> {
    const { llm, offline } = this.#options;
    const cacheKey = cacheKeyOf(facts);
    const base = {
      eventId,
      moleculeId: facts.moleculeId,
      cacheKey,
      input: facts,
      ...(replayId === undefined ? {} : { replayId }),
    };
    if (llm === undefined) {
      const started = performance.now();
      const result = await offline.describe(facts);
      await this.#record({
        ...base,
        ...answered(result, offline.name),
        status: 'offline',
        needsReenrichment: false,
        latencyMs: performance.now() - started,
      });
      return;
    }
    const cached = await this.#store.cachedAnswer(cacheKey, llm.model);
    if (cached !== undefined) {
      await this.#record({
        ...base,
        agent: llm.name,
        model: llm.model,
        output: cached,
        status: 'cached',
        needsReenrichment: false,
        latencyMs: 0,
      });
      return;
    }
    const outcome = await this.#askLlm(llm, { ...base });
    if (outcome.kind === 'answered') return;
    await this.#fallback(base, outcome.error, outcome.kind === 'unavailable');
  }

  /** Asks the LLM; records the run when it answered (accepted or rejected). */
  async #askLlm(
    llm: ChemistryAgent,
    base: Pick<NewAgentRun, 'eventId' | 'moleculeId' | 'cacheKey' | 'input' | 'replayId'> & {
      reenrichmentOf?: number;
    },
  ): Promise<
    | { kind: 'answered' }
    | { kind: 'rejected'; error: LlmError }
    | { kind: 'unavailable'; error: LlmError }
  > {
    const started = performance.now();
    let result: AgentAnswer;
    try {
      result = await llm.describe(base.input, this.#stopping.signal);
    } catch (caught) {
      if (this.#stopping.signal.aborted) throw caught;
      const error =
        caught instanceof LlmError
          ? caught
          : new LlmError('network', String(caught), { cause: caught });
      if (error.transient) return { kind: 'unavailable', error };
      const extra = error as unknown as { raw?: string; usage?: TokenUsage };
      await this.#record({
        ...base,
        agent: llm.name,
        model: llm.model,
        status: 'rejected',
        needsReenrichment: false,
        output: null,
        errorCode: `LLM_${error.kind.toUpperCase()}`,
        error: error.message,
        ...(extra.raw === undefined ? {} : { rawOutput: extra.raw }),
        ...(extra.usage === undefined ? {} : { usage: extra.usage }),
        latencyMs: performance.now() - started,
      });
      this.#logger.warn(
        { eventId: base.eventId, moleculeId: base.moleculeId, error: error.message },
        'LLM answer rejected',
      );
      return { kind: 'rejected', error };
    }
    const runId = await this.#record({
      ...base,
      ...answered(result, llm.name),
      status: 'succeeded',
      needsReenrichment: false,
      latencyMs: performance.now() - started,
    });
    await this.#store.cacheAnswer(base.cacheKey, llm.model, llm.name, result.answer, runId);
    return { kind: 'answered' };
  }

  async #fallback(
    base: Pick<NewAgentRun, 'eventId' | 'moleculeId' | 'cacheKey' | 'input' | 'replayId'>,
    error: LlmError,
    reenrich: boolean,
  ): Promise<void> {
    const { offline } = this.#options;
    const started = performance.now();
    const result = await offline.describe(base.input);
    await this.#record({
      ...base,
      ...answered(result, offline.name),
      status: 'fallback',
      // A provider that was unavailable may answer later; one that answered wrongly would not.
      needsReenrichment: reenrich,
      errorCode: `LLM_${error.kind.toUpperCase()}`,
      error: error.message,
      latencyMs: performance.now() - started,
    });
  }

  /**
   * One re-enrichment pass: asks the LLM again for fallback answers, oldest first, while it
   * answers. Returns how many were re-enriched. Passes never overlap.
   */
  reenrich(limit = 50): Promise<number> {
    this.#pass ??= this.#reenrichPass(limit).finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  async #reenrichPass(limit: number): Promise<number> {
    const { llm, breaker } = this.#options;
    if (llm === undefined || breaker?.state === 'open') return 0;
    const pending = await this.#store.pendingReenrichment(limit);
    let done = 0;
    for (const run of pending) {
      const outcome = await this.#askLlm(llm, {
        eventId: run.eventId,
        moleculeId: run.moleculeId,
        cacheKey: run.cacheKey,
        input: run.input,
        reenrichmentOf: run.id,
      });
      if (outcome.kind === 'unavailable') {
        const giveUp = run.reenrichmentAttempts + 1 >= MAX_REENRICHMENT_ATTEMPTS;
        await this.#store.markReenrichment(run.id, giveUp);
        // Still unavailable: the rest wait for the next pass.
        break;
      }
      await this.#store.markReenrichment(run.id, true);
      if (outcome.kind === 'answered') done++;
    }
    if (done > 0) this.#logger.info({ reenriched: done }, 'fallback answers re-enriched');
    return done;
  }

  async #record(run: NewAgentRun): Promise<number> {
    const id = await this.#store.recordRun(run);
    this.#metrics.agentRuns.inc({ agent: run.agent, status: run.status });
    return id;
  }

  #storeUnavailable(error: unknown, handled: number): BatchOutcome {
    this.#storeFailures++;
    const retryAfterMs = fullJitterDelay(this.#storeFailures, this.#options.retry);
    this.#logger.warn(
      { err: error, retryAfterMs },
      'agent store unavailable; batch will be retried',
    );
    return { handled, retryAfterMs };
  }
}

function answered(
  result: AgentAnswer,
  agent: string,
): Pick<NewAgentRun, 'agent' | 'model' | 'output' | 'rawOutput' | 'usage'> {
  return {
    agent,
    model: result.model,
    output: result.answer,
    ...(result.raw === undefined ? {} : { rawOutput: result.raw }),
    ...(result.usage === undefined ? {} : { usage: result.usage }),
  };
}
