import type {
  AgentRun,
  AgentRunFilter,
  AgentRunStatus,
  AgentStore,
  MoleculeView,
  NewAgentRun,
} from '../../../ports/agent-store.ts';
import type { Database } from '../../../ports/database.ts';
import type { ChemistryAnswer, MoleculeFacts } from '../../../ports/llm.ts';
import * as sql from './agents-sql.ts';
import { readSnapshot } from './snapshot-sql.ts';

interface RunRow {
  run_id: number;
  event_id: string;
  molecule_id: string;
  agent: string;
  model: string;
  status: AgentRunStatus;
  needs_reenrichment: boolean;
  reenrichment_attempts: number;
  reenrichment_of: number | null;
  cache_key: string;
  input: MoleculeFacts;
  output: ChemistryAnswer | null;
  raw_output: string | null;
  error_code: string | null;
  error: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  total_tokens: number | null;
  latency_ms: number;
  created_at: Date | string;
}

function toRun(row: RunRow): AgentRun {
  const run: AgentRun = {
    id: Number(row.run_id),
    eventId: row.event_id,
    moleculeId: row.molecule_id,
    agent: row.agent,
    model: row.model,
    status: row.status,
    needsReenrichment: row.needs_reenrichment,
    reenrichmentAttempts: row.reenrichment_attempts,
    cacheKey: row.cache_key,
    input: row.input,
    output: row.output,
    latencyMs: row.latency_ms,
    createdAt: new Date(row.created_at).toISOString(),
  };
  if (row.reenrichment_of !== null) run.reenrichmentOf = Number(row.reenrichment_of);
  if (row.raw_output !== null) run.rawOutput = row.raw_output;
  if (row.error_code !== null) run.errorCode = row.error_code;
  if (row.error !== null) run.error = row.error;
  if (row.total_tokens !== null) {
    run.usage = {
      promptTokens: row.prompt_tokens ?? 0,
      completionTokens: row.completion_tokens ?? 0,
      totalTokens: row.total_tokens,
    };
  }
  return run;
}

/** Agent runs and cached answers in the Herald database. */
export class PostgresAgentStore implements AgentStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async recordRun(run: NewAgentRun): Promise<number> {
    const [row] = await this.#db.query<{ run_id: number }>(sql.insertRun, [
      run.eventId,
      run.moleculeId,
      run.agent,
      run.model,
      run.status,
      run.needsReenrichment,
      run.reenrichmentOf ?? null,
      run.cacheKey,
      JSON.stringify(run.input),
      run.output === null ? null : JSON.stringify(run.output),
      run.rawOutput ?? null,
      run.errorCode ?? null,
      run.error ?? null,
      run.usage?.promptTokens ?? null,
      run.usage?.completionTokens ?? null,
      run.usage?.totalTokens ?? null,
      Math.round(run.latencyMs),
      run.replayId ?? null,
    ]);
    return Number(row?.run_id);
  }

  async answeredEvents(eventIds: readonly string[]): Promise<Set<string>> {
    if (eventIds.length === 0) return new Set();
    const rows = await this.#db.query<{ event_id: string }>(sql.answeredEvents, [eventIds]);
    return new Set(rows.map((r) => r.event_id));
  }

  async cachedAnswer(cacheKey: string, model: string): Promise<ChemistryAnswer | undefined> {
    const [row] = await this.#db.query<{ output: ChemistryAnswer }>(sql.cachedAnswer, [
      cacheKey,
      model,
    ]);
    return row?.output;
  }

  async cacheAnswer(
    cacheKey: string,
    model: string,
    agent: string,
    answer: ChemistryAnswer,
    runId: number,
  ): Promise<void> {
    await this.#db.query(sql.cacheAnswer, [cacheKey, model, agent, JSON.stringify(answer), runId]);
  }

  async pendingReenrichment(limit: number): Promise<AgentRun[]> {
    return (await this.#db.query<RunRow>(sql.pendingReenrichment, [limit])).map(toRun);
  }

  async markReenrichment(runId: number, done: boolean): Promise<void> {
    await this.#db.query(sql.markReenrichment, [runId, done]);
  }

  async listRuns(filter: AgentRunFilter): Promise<AgentRun[]> {
    const rows = await this.#db.query<RunRow>(sql.listRuns, [
      filter.moleculeId ?? null,
      filter.status ?? null,
      filter.agent ?? null,
      filter.limit,
    ]);
    return rows.map(toRun);
  }

  async molecule(moleculeId: string, runLimit: number): Promise<MoleculeView | undefined> {
    // One snapshot: read statement by statement, a run recorded between them showed up in
    // the runs but not as the latest result.
    const { event, latest, runRows } = await this.#db.transaction(async (tx) => {
      await tx.query(readSnapshot);
      const [event] = await tx.query<{
        event_id: string;
        payload: Record<string, unknown>;
        enrichment: Record<string, unknown>;
        processed_at: Date | string;
        events: number;
      }>(sql.moleculeEvents, [moleculeId]);
      const [latest] = await tx.query<RunRow>(sql.latestResult, [moleculeId]);
      const runRows = await tx.query<RunRow>(sql.listRuns, [moleculeId, null, null, runLimit]);
      return { event, latest, runRows };
    });
    const runs = runRows.map(toRun);
    if (event === undefined && runs.length === 0) return undefined;
    return {
      moleculeId,
      latestEvent: event
        ? {
            eventId: event.event_id,
            payload: event.payload,
            enrichment: event.enrichment,
            processedAt: new Date(event.processed_at).toISOString(),
          }
        : null,
      events: event?.events ?? 0,
      latestResult: latest ? toRun(latest) : null,
      runs,
    };
  }
}
