/**
 * The agents' part of the start (platform/start.ts): builds the chemistry agents from
 * the configuration (the LLM agent behind its resilience when LLM_BASE_URL is set, the offline
 * agent always) and starts them as their own consumer group.
 */
import { RdkitToolkit } from '../adapters/chemistry/rdkit/toolkit.ts';
import { OfflineChemistryAgent } from '../adapters/llm/offline/agent.ts';
import { OpenAiCompatibleClient } from '../adapters/llm/openai/client.ts';
import { PostgresAgentStore } from '../adapters/store/postgres/agent-store.ts';
import { LlmChemistryAgent } from '../app/agents/llm-agent.ts';
import { AgentRunner } from '../app/agents/runner.ts';
import { type BreakerState, CircuitBreaker } from '../app/resilience/circuit-breaker.ts';
import { ResilientLlmClient } from '../app/resilience/resilient-llm.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';
import { consumerId } from './consumer-groups.ts';
import type { Stops } from './stops.ts';

const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** Starts the chemistry agents on the `chemical` topic, as their own consumer group. */
export async function startAgents(
  config: Config,
  deps: { db: Database; broker: Broker; metrics: Metrics; logger: Logger },
  stops: Stops,
): Promise<AgentRunner> {
  const { db, broker, metrics, logger } = deps;
  let llm: LlmChemistryAgent | undefined;
  let breaker: CircuitBreaker | undefined;
  if (config.llmBaseUrl !== undefined) {
    metrics.circuitBreakerState.set({ breaker: 'llm' }, 0);
    breaker = new CircuitBreaker({
      failureThreshold: config.llmBreakerFailures,
      cooldownMs: config.llmBreakerCooldownMs,
      onStateChange: (state) => {
        metrics.circuitBreakerState.set({ breaker: 'llm' }, BREAKER_STATE_VALUE[state]);
        logger.warn({ breaker: 'llm', state }, 'LLM circuit breaker changed state');
      },
    });
    const client = new ResilientLlmClient(
      new OpenAiCompatibleClient({
        baseUrl: config.llmBaseUrl,
        apiKey: config.llmApiKey,
        model: config.llmModel,
      }),
      {
        requestsPerMinute: config.llmRequestsPerMinute,
        tokensPerMinute: config.llmTokensPerMinute,
        concurrency: config.llmConcurrency,
        timeoutMs: config.llmTimeoutMs,
        retry: {
          baseMs: config.llmRetryBaseMs,
          maxMs: config.llmRetryMaxMs,
          maxRetries: config.llmMaxRetries,
        },
        maxWaitMs: config.llmMaxWaitMs,
        breaker,
        onAttempt: (outcome, tokens) => {
          metrics.llmCalls.inc({ outcome });
          if (tokens > 0) metrics.llmTokens.inc(tokens);
        },
        onRateLimited: () => metrics.llmRateLimited.inc(),
      },
    );
    llm = new LlmChemistryAgent(client);
  }
  const runner = new AgentRunner(new PostgresAgentStore(db), metrics, logger, {
    consumerId: consumerId('agents'),
    llm,
    breaker,
    offline: new OfflineChemistryAgent(),
    toolkit: new RdkitToolkit(),
    batchSize: Math.min(config.workerBatchSize, 50),
    concurrency: config.llmConcurrency,
    retry: { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs },
    reenrichIntervalMs: config.agentsReenrichIntervalMs,
  });
  await runner.start(broker);
  stops.add('agents', () => runner.stop());
  return runner;
}
