/**
 * The API's JSON for agents (see common.ts): agent runs, and a molecule with its facts and
 * its latest agent answer.
 */
import { AGENT_RUN_STATUSES, type AgentRun, type MoleculeView } from '../../ports/agent-store.ts';
import type { MoleculeFacts } from '../../ports/llm.ts';

/** A run as `agentRun` describes it. */
export function runToJson(run: AgentRun) {
  return {
    id: run.id,
    event_id: run.eventId,
    molecule_id: run.moleculeId,
    agent: run.agent,
    model: run.model,
    status: run.status,
    needs_reenrichment: run.needsReenrichment,
    reenrichment_attempts: run.reenrichmentAttempts,
    reenrichment_of: run.reenrichmentOf ?? null,
    cache_key: run.cacheKey,
    input: run.input,
    output: run.output,
    raw_output: run.rawOutput ?? null,
    error_code: run.errorCode ?? null,
    error: run.error ?? null,
    tokens: run.usage
      ? {
          prompt: run.usage.promptTokens,
          completion: run.usage.completionTokens,
          total: run.usage.totalTokens,
        }
      : null,
    latency_ms: run.latencyMs,
    created_at: run.createdAt,
  };
}

export const agentRun = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'integer' },
    event_id: { type: 'string' },
    molecule_id: { type: 'string' },
    agent: { type: 'string', description: 'llm or offline' },
    model: { type: 'string' },
    status: { type: 'string', enum: AGENT_RUN_STATUSES },
    needs_reenrichment: { type: 'boolean' },
    reenrichment_attempts: { type: 'integer' },
    reenrichment_of: { type: ['integer', 'null'] },
    cache_key: { type: 'string' },
    input: { type: 'object', additionalProperties: true },
    output: { type: ['object', 'null'], additionalProperties: true },
    raw_output: { type: ['string', 'null'] },
    error_code: { type: ['string', 'null'] },
    error: { type: ['string', 'null'] },
    tokens: {
      type: ['object', 'null'],
      properties: {
        prompt: { type: 'integer' },
        completion: { type: 'integer' },
        total: { type: 'integer' },
      },
    },
    latency_ms: { type: 'integer' },
    created_at: { type: 'string', format: 'date-time' },
  },
} as const;

const moleculeId = { type: 'string', minLength: 1, maxLength: 256 } as const;

export const runsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    molecule_id: moleculeId,
    status: { type: 'string', enum: AGENT_RUN_STATUSES },
    agent: { type: 'string', minLength: 1, maxLength: 64 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
} as const;

export const runsResponse = {
  type: 'object',
  properties: { runs: { type: 'array', items: agentRun } },
} as const;

export const moleculeParams = {
  type: 'object',
  required: ['molecule_id'],
  properties: { molecule_id: moleculeId },
} as const;

export const moleculeQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { runs: { type: 'integer', minimum: 0, maximum: 1000, default: 20 } },
} as const;

export const moleculeResponse = {
  type: 'object',
  additionalProperties: true,
  properties: {
    molecule_id: { type: 'string' },
    events: { type: 'integer' },
    latest_event: { type: ['object', 'null'], additionalProperties: true },
    chemistry: { type: ['object', 'null'], additionalProperties: true },
    agent_result: { type: ['object', 'null'], additionalProperties: true },
    runs: { type: 'array', items: agentRun },
  },
} as const;

/** A molecule as `moleculeResponse` describes it. */
export function moleculeJson(molecule: MoleculeView) {
  const latest = molecule.latestResult;
  return {
    molecule_id: molecule.moleculeId,
    events: molecule.events,
    latest_event: molecule.latestEvent
      ? {
          event_id: molecule.latestEvent.eventId,
          processed_at: molecule.latestEvent.processedAt,
          payload: molecule.latestEvent.payload,
        }
      : null,
    // The deterministic facts: the processing pipeline's, else (the agents' group got to the
    // event first) those the agent computed, under the pipeline's names.
    chemistry:
      (molecule.latestEvent?.enrichment.chemistry as Record<string, unknown> | undefined) ??
      (latest === null ? null : agentChemistry(latest.input)),
    agent_result: latest
      ? {
          run_id: latest.id,
          agent: latest.agent,
          model: latest.model,
          status: latest.status,
          needs_reenrichment: latest.needsReenrichment,
          answer: latest.output,
          structure: latest.input.structure ?? null,
          structure_error: latest.input.structureError ?? null,
          created_at: latest.createdAt,
        }
      : null,
    runs: molecule.runs.map(runToJson),
  };
}

/** The agent's facts under the names the pipeline's enrichment gives them (no weight check). */
function agentChemistry(facts: MoleculeFacts): Record<string, unknown> {
  return {
    hill_formula: facts.hill,
    composition: facts.composition,
    molar_mass: facts.averageMass,
    monoisotopic_mass: facts.monoisotopicMass,
  };
}
