/** Every statement of the replay store (replays, replay_actions; migration 011), in one place. */

const replayColumns = `r.id, r.target, r.endpoint_id, r.range_from, r.range_to, r.topics,
  r.event_types, r.keys, r.rate_per_second, r.dry_run, r.status, r.created_by, r.created_at,
  r.updated_at, r.started_at, r.finished_at, r.events_read, r.sent, r.skipped, r.by_type,
  r.outcomes, r.samples, r.last_error, r.cursor`;

export const insertReplay = `
  WITH created AS (
    INSERT INTO replays (id, target, endpoint_id, range_from, range_to, topics, event_types,
      keys, rate_per_second, dry_run, status, created_by)
    VALUES ($1, $2, $3, $4, $5, $6::text[], $7::text[], $8::text[], $9, $10, 'pending', $11)
    RETURNING *),
  action AS (
    INSERT INTO replay_actions (replay_id, action, actor)
    SELECT id, CASE WHEN dry_run THEN 'created (dry run)' ELSE 'created' END, created_by
    FROM created)
  SELECT ${replayColumns} FROM created r`;

export const getReplay = `SELECT ${replayColumns} FROM replays r WHERE r.id = $1`;

export const listReplays = `
  SELECT ${replayColumns} FROM replays r ORDER BY r.created_at DESC, r.id DESC LIMIT $1`;

export const actionsOf = `
  SELECT replay_id, at, action, actor FROM replay_actions
  WHERE replay_id = ANY($1::text[]) ORDER BY at, action`;

/**
 * An operator's move ($2 the action, $3 the statuses it leaves, $4 the status it goes to, $5 the
 * actor); a finished replay cannot move. Only a move that happened is recorded.
 */
export const actOn = `
  WITH moved AS (
    UPDATE replays SET status = $4, updated_at = now(),
      finished_at = CASE WHEN $4 = 'cancelled' THEN now() ELSE finished_at END
    WHERE id = $1 AND status = ANY($3::text[])
    RETURNING id),
  action AS (
    INSERT INTO replay_actions (replay_id, action, actor) SELECT id, $2, $5 FROM moved)
  SELECT id FROM moved`;

/** The oldest runnable replay to one of targets $3 whose lease is free, taken by $1 for $2 ms. */
export const claimReplay = `
  UPDATE replays r
  SET lease_owner = $1, lease_until = now() + $2::int * interval '1 millisecond',
      status = 'running', started_at = coalesce(r.started_at, now()), updated_at = now()
  FROM (
    SELECT id FROM replays
    WHERE status IN ('pending', 'running') AND (lease_until IS NULL OR lease_until < now())
      AND target = ANY($3::text[])
    ORDER BY created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
  ) free
  WHERE r.id = free.id
  RETURNING ${replayColumns}`;

/**
 * A batch's cursor and progress ($3 cursor, $4 read, $5 sent, $6 skipped, $7 by type, $8
 * outcomes, $9 samples, $10 done), only while $2 holds the lease of a running replay; renews
 * the lease ($11 ms).
 */
export const commitProgress = `
  UPDATE replays SET cursor = $3::jsonb, events_read = $4, sent = $5, skipped = $6,
    by_type = $7::jsonb, outcomes = $8::jsonb, samples = $9::jsonb, updated_at = now(),
    status = CASE WHEN $10::boolean THEN 'completed' ELSE status END,
    finished_at = CASE WHEN $10::boolean THEN now() ELSE finished_at END,
    lease_until = now() + $11::int * interval '1 millisecond',
    last_error = NULL
  WHERE id = $1 AND lease_owner = $2 AND status = 'running'
  RETURNING id`;

/** Re-derived enrichment ($1: JSON array of {event_id, enrichment}); the rollups stay as they are. */
export const updateEnrichment = `
  UPDATE processed_events p SET enrichment = x.enrichment
  FROM jsonb_to_recordset($1::jsonb) AS x(event_id text, enrichment jsonb)
  WHERE p.event_id = x.event_id`;

export const renew = `
  UPDATE replays SET lease_until = now() + $3::int * interval '1 millisecond'
  WHERE id = $1 AND lease_owner = $2
  RETURNING id`;

/** Gives the lease back; $3 an error to record, $4 whether it ends the replay (failed). */
export const release = `
  UPDATE replays SET lease_owner = NULL, lease_until = NULL, updated_at = now(),
    last_error = coalesce($3, last_error),
    status = CASE WHEN $4::boolean AND status = 'running' THEN 'failed' ELSE status END,
    finished_at = CASE WHEN $4::boolean AND status = 'running' THEN now() ELSE finished_at END
  WHERE id = $1 AND lease_owner = $2`;

export const processedRows = `
  SELECT event_id, enrichment, processed_at FROM processed_events WHERE event_id = ANY($1::text[])`;

export const deliveredTo = `
  SELECT event_id FROM notification_deliveries
  WHERE channel = 'webhook' AND recipient = $1 AND event_id = ANY($2::text[])`;

export const agentRunsOf = `
  SELECT DISTINCT event_id FROM agent_runs WHERE replay_id = $1 AND event_id = ANY($2::text[])`;

export const statusOf = 'SELECT status FROM replays WHERE id = $1';
