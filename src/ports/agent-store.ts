/** Where agent runs and cached agent answers are kept, and read back for the API. */
import type { ChemistryAnswer, MoleculeFacts, TokenUsage } from './llm.ts';

export type AgentRunStatus = 'succeeded' | 'cached' | 'rejected' | 'fallback' | 'offline';

export const AGENT_RUN_STATUSES: readonly AgentRunStatus[] = [
  'succeeded',
  'cached',
  'rejected',
  'fallback',
  'offline',
];

export interface NewAgentRun {
  eventId: string;
  moleculeId: string;
  /** Which agent answered: `llm` or `offline`. */
  agent: string;
  model: string;
  status: AgentRunStatus;
  needsReenrichment: boolean;
  /** The run this one re-enriched, when it came from the re-enrichment pass. */
  reenrichmentOf?: number;
  /** The replay that asked for this run (issue #20), when one did. */
  replayId?: string;
  cacheKey: string;
  input: MoleculeFacts;
  output: ChemistryAnswer | null;
  rawOutput?: string;
  errorCode?: string;
  error?: string;
  usage?: TokenUsage;
  latencyMs: number;
}

export interface AgentRun extends NewAgentRun {
  id: number;
  reenrichmentAttempts: number;
  createdAt: string;
}

export interface AgentRunFilter {
  moleculeId?: string;
  status?: AgentRunStatus;
  agent?: string;
  limit: number;
}

export interface MoleculeView {
  moleculeId: string;
  /** The latest processed event of the molecule, with its deterministic enrichment. */
  latestEvent: {
    eventId: string;
    payload: Record<string, unknown>;
    enrichment: Record<string, unknown>;
    processedAt: string;
  } | null;
  events: number;
  /** The latest run that produced an answer (not a rejected one). */
  latestResult: AgentRun | null;
  runs: AgentRun[];
}

/** Statuses whose run carries the molecule's answer. */
export const ANSWERING_STATUSES: readonly AgentRunStatus[] = [
  'succeeded',
  'cached',
  'fallback',
  'offline',
];

export interface AgentStore {
  recordRun(run: NewAgentRun): Promise<number>;
  /** Of `eventIds`, those that already have an answering run (a redelivery skips them). */
  answeredEvents(eventIds: readonly string[]): Promise<Set<string>>;
  cachedAnswer(cacheKey: string, model: string): Promise<ChemistryAnswer | undefined>;
  cacheAnswer(
    cacheKey: string,
    model: string,
    agent: string,
    answer: ChemistryAnswer,
    runId: number,
  ): Promise<void>;
  /** Fallback runs still waiting for the LLM, oldest first. */
  pendingReenrichment(limit: number): Promise<AgentRun[]>;
  /** Counts one re-enrichment try; `done` clears the mark (answered, or given up). */
  markReenrichment(runId: number, done: boolean): Promise<void>;
  listRuns(filter: AgentRunFilter): Promise<AgentRun[]>;
  molecule(moleculeId: string, runLimit: number): Promise<MoleculeView | undefined>;
}
