/** Every statement of log maintenance's database side (migration 011), in one place. */

/** Takes the maintenance lease for $1 ($2 ms) if free, expired or already $1's. */
export const acquireLease = `
  UPDATE log_maintenance
  SET holder = $1, lease_until = now() + $2::int * interval '1 millisecond'
  WHERE id = 1 AND (holder = $1 OR holder IS NULL OR lease_until < now())
  RETURNING id`;

export const releaseLease = `
  UPDATE log_maintenance SET holder = NULL, lease_until = NULL WHERE id = 1 AND holder = $1`;

/**
 * For a window of $1 ms: the current period, the slot that holds only expired ids ((period +
 * 1) mod 3: written two periods ago), how far into the period now is, and whether this period's
 * clearing is done.
 */
export const dedupePeriod = `
  SELECT p.period, ((p.period + 1) % 3)::int AS slot,
         (extract(epoch FROM now()) * 1000 - p.period * $1::bigint)::bigint AS into_ms,
         coalesce(m.cleared_period >= p.period, false) AS done
  FROM (SELECT floor(extract(epoch FROM now()) * 1000 / $1::bigint)::bigint AS period) p,
       log_maintenance m
  WHERE m.id = 1`;

export const markCleared = 'UPDATE log_maintenance SET cleared_period = $1 WHERE id = 1';

/** Duplicate counts (Postgres transport) of acceptances older than the window ($1 ms). */
export const pruneDuplicates = `
  DELETE FROM event_duplicates WHERE last_at < now() - $1::bigint * interval '1 millisecond'`;

/** The dedupe slot tables and whether each is attached (or being detached). */
export const dedupeSlots = `
  SELECT c.relname AS name, i.inhrelid IS NOT NULL AS attached,
         coalesce(i.inhdetachpending, false) AS pending, greatest(c.reltuples, 0)::bigint AS estimate
  FROM pg_class c
  LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'event_dedupe'::regclass
  WHERE c.relnamespace = current_schema()::regnamespace
    AND c.relname IN ('event_dedupe_0', 'event_dedupe_1', 'event_dedupe_2')`;

/** Rows of each history kind older than $1, at most $2 per statement. */
export const pruneHistory = {
  attempts: `
    DELETE FROM failed_events WHERE event_id IN (
      SELECT event_id FROM failed_events
      WHERE status IN ('retrying', 'replayed') AND last_failed_at < $1
      LIMIT $2)
    RETURNING 1`,
  dead_letters: `
    DELETE FROM failed_events WHERE event_id IN (
      SELECT event_id FROM failed_events
      WHERE status IN ('dead', 'purged') AND last_failed_at < $1
      LIMIT $2)
    RETURNING 1`,
  deliveries: `
    DELETE FROM notification_deliveries WHERE id IN (
      SELECT id FROM notification_deliveries
      WHERE created_at < $1 AND status IN ('sent', 'failed', 'skipped')
      ORDER BY created_at DESC, id DESC
      LIMIT $2)
    RETURNING 1`,
  // By event type, through the (event_type, occurred_at) index: no index of its own to keep.
  // Rows processed after the cutoff stay whatever their event time.
  processed: `
    DELETE FROM processed_events WHERE event_id IN (
      SELECT p.event_id
      FROM (SELECT DISTINCT event_type FROM analytics_counts WHERE grain = 'day') t
      CROSS JOIN LATERAL (
        SELECT event_id FROM processed_events
        WHERE event_type = t.event_type AND occurred_at < $1 AND processed_at < $1
        LIMIT $2) p
      LIMIT $2)
    RETURNING 1`,
} as const;
