/** Every statement of the Postgres event store, in one place. */
import { withRollups } from './analytics-sql.ts';

/**
 * Inserts a batch of processed events; an event without a timestamp happened when it was
 * accepted. On its own (no rollups): the baseline bench/scenarios/analytics.ts measures against.
 */
export const insertProcessedRows = `
  INSERT INTO processed_events (event_id, topic, event_type, key, user_id, payload, enrichment,
    occurred_at, accepted_at, processed_at, correlation_id, source_partition, source_offset)
  SELECT event_id, topic, event_type, key, user_id, payload, enrichment,
    coalesce(occurred_at, accepted_at), accepted_at, processed_at, correlation_id,
    source_partition, source_offset
  FROM jsonb_to_recordset($1::jsonb) AS e(event_id text, topic text, event_type text, key text,
    user_id text, payload jsonb, enrichment jsonb, occurred_at timestamptz,
    accepted_at timestamptz, processed_at timestamptz, correlation_id text,
    source_partition int, source_offset bigint)
  ON CONFLICT (event_id) DO NOTHING`;

/** The batch insert, updating the analytics rollups from the rows it inserted, in one statement. */
export const insertProcessed = withRollups(insertProcessedRows);

/**
 * Dead-letters events. A redelivery of a delivery already dead-lettered changes nothing; a
 * later generation (a replay that failed again) takes the row over. The payload is jsonb, or
 * JSON text where jsonb cannot hold it; a minimal record has neither and keeps what an earlier
 * attempt stored. `failed_at` is the worker's batch time, else the database's.
 */
export const insertDead = `
  INSERT INTO failed_events AS f (event_id, topic, event_type, key, payload, payload_text,
    headers, status, reason, error_code, last_error, attempts, accepted_at, generation,
    source_partition, source_offset, operator, first_failed_at, last_failed_at)
  SELECT event_id, topic, event_type, key, payload, payload_text, headers, 'dead', reason,
    error_code, last_error, 1, accepted_at, generation, source_partition, source_offset,
    operator, coalesce(failed_at, now()), coalesce(failed_at, now())
  FROM jsonb_to_recordset($1::jsonb) AS d(event_id text, topic text, event_type text, key text,
    payload jsonb, payload_text text, headers jsonb, reason text, error_code text,
    last_error text, accepted_at timestamptz, generation int, source_partition int,
    source_offset bigint, operator text, failed_at timestamptz)
  ON CONFLICT (event_id) DO UPDATE SET
    status = 'dead', reason = EXCLUDED.reason, error_code = EXCLUDED.error_code,
    last_error = EXCLUDED.last_error, last_failed_at = EXCLUDED.last_failed_at,
    generation = EXCLUDED.generation, source_partition = EXCLUDED.source_partition,
    source_offset = EXCLUDED.source_offset, operator = EXCLUDED.operator,
    payload = CASE WHEN EXCLUDED.payload IS NULL AND EXCLUDED.payload_text IS NULL
      THEN f.payload ELSE EXCLUDED.payload END,
    payload_text = CASE WHEN EXCLUDED.payload IS NULL AND EXCLUDED.payload_text IS NULL
      THEN f.payload_text ELSE EXCLUDED.payload_text END,
    -- a retrying event's last attempt was counted when it was recorded
    attempts = CASE WHEN f.status = 'retrying' THEN f.attempts ELSE f.attempts + 1 END
  WHERE f.status <> 'dead' OR EXCLUDED.generation > f.generation`;

/**
 * Records a failed attempt of an event that will be retried ($1–$14: failureRow's fields),
 * and returns the attempts so far with the operator's pending request for this delivery.
 */
export const recordAttempt = `
  INSERT INTO failed_events AS f (event_id, topic, event_type, key, payload, payload_text,
    headers, status, reason, error_code, last_error, attempts, accepted_at, generation,
    source_partition, source_offset)
  VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, 'retrying', $8, $9, $10, 1, $11, $12, $13,
    $14)
  ON CONFLICT (event_id) DO UPDATE SET
    status = 'retrying', reason = EXCLUDED.reason, error_code = EXCLUDED.error_code,
    last_error = EXCLUDED.last_error, attempts = f.attempts + 1, last_failed_at = now(),
    generation = EXCLUDED.generation, source_partition = EXCLUDED.source_partition,
    source_offset = EXCLUDED.source_offset
  RETURNING attempts, (
    SELECT row_to_json(o) FROM operator_requests o
    WHERE o.event_id = f.event_id AND o.generation = f.generation AND o.applied_at IS NULL
  ) AS operator_request`;

const operatorColumns = 'event_id, generation, partition, topic, requested_by, note, requested_at';

/** An operator's request to dead-letter a delivery; one for the same event replaces it. */
export const requestDeadLetter = `
  INSERT INTO operator_requests (event_id, generation, partition, topic, requested_by, note)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (event_id) DO UPDATE SET
    generation = EXCLUDED.generation, partition = EXCLUDED.partition, topic = EXCLUDED.topic,
    requested_by = EXCLUDED.requested_by, note = EXCLUDED.note, requested_at = now(),
    applied_at = NULL
  RETURNING ${operatorColumns}`;

export const pendingOperatorRequest = `
  SELECT ${operatorColumns} FROM operator_requests
  WHERE event_id = $1 AND generation = $2 AND applied_at IS NULL`;

export const completeOperatorRequest = `
  UPDATE operator_requests SET applied_at = now()
  WHERE event_id = $1 AND generation = $2 AND applied_at IS NULL`;

const eventColumns = `r.event_id, r.topic, r.event_type, r.key, r.payload, r.accepted_at,
         p.processed_at, p.enrichment,
         f.status AS failure_status, f.reason, f.error_code, f.last_error, f.attempts,
         f.first_failed_at, f.last_failed_at`;

// The log also carries internal topics (user events, with personal data); event lookups see
// only the producers' topics, passed as a JSON array.
const eventTopic = (column: string, param: string) =>
  `${column} IN (SELECT jsonb_array_elements_text(${param}::jsonb))`;

/**
 * An event by id ($2: the event topics): from the event log when the Postgres transport wrote
 * it there, else (Kafka, Redis: the broker is the log) from what the workers stored about it.
 */
export const getEvent = `
  WITH r AS (
    SELECT event_id, topic, event_type, key, payload, accepted_at
    FROM raw_events WHERE event_id = $1 AND generation = 0 AND ${eventTopic('topic', '$2')}
    UNION ALL
    SELECT event_id, topic, event_type, key, payload, accepted_at
    FROM processed_events WHERE event_id = $1
    UNION ALL
    SELECT event_id, topic, event_type, key, coalesce(payload, '{}'), accepted_at
    FROM failed_events WHERE event_id = $1
    LIMIT 1)
  SELECT ${eventColumns}
  FROM r
  LEFT JOIN processed_events p ON p.event_id = r.event_id
  LEFT JOIN failed_events f ON f.event_id = r.event_id`;

const deadLetterColumns = `event_id, topic, event_type, key, payload, payload_text, headers,
  reason, error_code, last_error, attempts, first_failed_at, last_failed_at, replay_count,
  accepted_at, source_partition, source_offset, operator`;

// $1 type, $2 reason, $3 since, $4 until, $5 ids (a JSON array of event ids, or null).
const deadLetterFilter = `status = 'dead'
    AND ($1::text IS NULL OR event_type = $1)
    AND ($2::text IS NULL OR reason = $2)
    AND ($3::timestamptz IS NULL OR last_failed_at >= $3)
    AND ($4::timestamptz IS NULL OR last_failed_at < $4)
    AND ($5::jsonb IS NULL OR event_id IN (SELECT jsonb_array_elements_text($5::jsonb)))`;

export const listDeadLetters = `
  SELECT ${deadLetterColumns} FROM failed_events
  WHERE ${deadLetterFilter}
  ORDER BY last_failed_at DESC, event_id
  LIMIT $6`;

/** Purging marks the dead letter 'purged': it leaves the dead letters, its history stays. */
export const purgeDeadLetters = `
  UPDATE failed_events SET status = 'purged' WHERE event_id IN (
    SELECT event_id FROM failed_events
    WHERE ${deadLetterFilter}
    ORDER BY last_failed_at DESC, event_id
    LIMIT $6)
  AND status = 'dead'
  RETURNING event_id`;

/** $1 user_id, $2 event type, $3 topic, $4 from, $5 to, $6 limit, $7 event topics; newest first. */
export const searchEvents = `
  SELECT ${eventColumns}
  FROM raw_events r
  LEFT JOIN processed_events p ON p.event_id = r.event_id
  LEFT JOIN failed_events f ON f.event_id = r.event_id
  WHERE r.generation = 0 AND ${eventTopic('r.topic', '$7')}
    AND ($1::text IS NULL OR r.payload->>'user_id' = $1)
    AND ($2::text IS NULL OR r.event_type = $2)
    AND ($3::text IS NULL OR r.topic = $3)
    AND ($4::timestamptz IS NULL OR r.accepted_at >= $4)
    AND ($5::timestamptz IS NULL OR r.accepted_at < $5)
  ORDER BY r.accepted_at DESC, r.event_id
  LIMIT $6`;

/**
 * searchEvents where the broker is not the Postgres log (Kafka, Redis): over what workers
 * stored, processed or failed. Events not handled yet are in the broker only.
 */
export const searchStoredEvents = `
  SELECT ${eventColumns}
  FROM (
    SELECT event_id, topic, event_type, key, payload, accepted_at FROM processed_events
    UNION ALL
    SELECT event_id, topic, event_type, key, coalesce(payload, '{}'), accepted_at
    FROM failed_events x
    WHERE NOT EXISTS (SELECT 1 FROM processed_events y WHERE y.event_id = x.event_id)
  ) r
  LEFT JOIN processed_events p ON p.event_id = r.event_id
  LEFT JOIN failed_events f ON f.event_id = r.event_id
  WHERE ($1::text IS NULL OR r.payload->>'user_id' = $1)
    AND ($2::text IS NULL OR r.event_type = $2)
    AND ($3::text IS NULL OR r.topic = $3)
    AND ($4::timestamptz IS NULL OR r.accepted_at >= $4)
    AND ($5::timestamptz IS NULL OR r.accepted_at < $5)
  ORDER BY r.accepted_at DESC, r.event_id
  LIMIT $6`;

export const getDeadLetter = `
  SELECT ${deadLetterColumns} FROM failed_events WHERE event_id = $1 AND status = 'dead'`;

export const markReplayed = `
  UPDATE failed_events SET status = 'replayed', replay_count = $2, attempts = 0
  WHERE event_id = $1 AND status = 'dead' AND generation < $2
  RETURNING event_id`;

/** Without the Postgres log (Kafka, Redis), accepted counts what workers have seen. */
export const countsStored = `
  SELECT
    ((SELECT count(*) FROM processed_events) + (SELECT count(*) FROM failed_events f
      WHERE NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.event_id = f.event_id)))::int
      AS accepted,
    (SELECT count(*) FROM processed_events)::int AS processed,
    (SELECT count(*) FROM failed_events f WHERE status = 'retrying'
       AND NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.event_id = f.event_id))::int
       AS retrying,
    (SELECT count(*) FROM failed_events WHERE status = 'dead')::int AS dead_lettered`;

export const counts = `
  SELECT
    (SELECT count(*) FROM raw_events WHERE generation = 0 AND ${eventTopic('topic', '$1')})::int
      AS accepted,
    (SELECT count(*) FROM processed_events)::int AS processed,
    (SELECT count(*) FROM failed_events f WHERE status = 'retrying'
       AND NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.event_id = f.event_id))::int
       AS retrying,
    (SELECT count(*) FROM failed_events WHERE status = 'dead')::int AS dead_lettered`;
