/** Every statement of the Postgres agent store (agent runs, cached answers), in one place. */

const runColumns = `run_id, event_id, molecule_id, agent, model, status, needs_reenrichment,
  reenrichment_attempts, reenrichment_of, cache_key, input, output, raw_output, error_code, error,
  prompt_tokens, completion_tokens, total_tokens, latency_ms, created_at`;

export const insertRun = `
  INSERT INTO agent_runs (event_id, molecule_id, agent, model, status, needs_reenrichment,
    reenrichment_of, cache_key, input, output, raw_output, error_code, error, prompt_tokens,
    completion_tokens, total_tokens, latency_ms, replay_id)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12, $13, $14, $15, $16,
    $17, $18)
  RETURNING run_id`;

export const answeredEvents = `
  SELECT DISTINCT event_id FROM agent_runs
  WHERE event_id = ANY($1::text[]) AND status <> 'rejected'`;

export const cachedAnswer = `
  SELECT output FROM agent_results WHERE cache_key = $1 AND model = $2`;

export const cacheAnswer = `
  INSERT INTO agent_results (cache_key, model, agent, output, run_id)
  VALUES ($1, $2, $3, $4::jsonb, $5)
  ON CONFLICT (cache_key, model) DO UPDATE SET
    output = EXCLUDED.output, agent = EXCLUDED.agent, run_id = EXCLUDED.run_id,
    created_at = now()`;

export const pendingReenrichment = `
  SELECT ${runColumns} FROM agent_runs WHERE needs_reenrichment ORDER BY run_id LIMIT $1`;

export const markReenrichment = `
  UPDATE agent_runs
  SET reenrichment_attempts = reenrichment_attempts + 1,
      needs_reenrichment = needs_reenrichment AND NOT $2::boolean
  WHERE run_id = $1`;

export const listRuns = `
  SELECT ${runColumns} FROM agent_runs
  WHERE ($1::text IS NULL OR molecule_id = $1)
    AND ($2::text IS NULL OR status = $2)
    AND ($3::text IS NULL OR agent = $3)
  ORDER BY run_id DESC
  LIMIT $4`;

export const latestResult = `
  SELECT ${runColumns} FROM agent_runs
  WHERE molecule_id = $1 AND status <> 'rejected'
  ORDER BY run_id DESC
  LIMIT 1`;

export const moleculeEvents = `
  SELECT event_id, payload, enrichment, processed_at, count(*) OVER ()::int AS events
  FROM processed_events
  WHERE topic = 'chemical' AND key = $1
  ORDER BY processed_at DESC, event_id DESC
  LIMIT 1`;
