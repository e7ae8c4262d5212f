/** Every statement of the dedupe window (event_dedupe, migration 011), in one place. */

/** $1 confirms, $2 claims (JSON arrays), $3 the window in ms: dedupe_claim (migration 011). */
export const claimIds = `
  SELECT claim_index, claim_slot, is_duplicate FROM dedupe_claim($1::jsonb, $2::jsonb, $3::bigint)`;

/**
 * The latest acceptance of event $1 within the window ($2 ms), whatever the broker recorded it
 * through: a claim in the two live slots of event_dedupe (Kafka, Redis), or the log itself with
 * its duplicates counted in event_duplicates (Postgres).
 */
export const lookupId = `
  WITH claimed AS (
    SELECT d.accepted_at, d.partition, d."offset", d.duplicates, d.last_duplicate_at
    FROM event_dedupe d, dedupe_slots($2::bigint) s
    WHERE d.slot IN (s.current_slot, s.previous_slot) AND d.event_id = $1 AND d.generation = 0
      AND d.confirmed AND d.accepted_at > now() - $2::bigint * interval '1 millisecond'
    ORDER BY d.accepted_at DESC
    LIMIT 1),
  logged AS (
    SELECT r.accepted_at, r.partition, r."offset",
           coalesce(c.times, 0) AS duplicates, c.last_at AS last_duplicate_at
    FROM (
      SELECT accepted_at, partition, "offset" FROM raw_events
      WHERE event_id = $1 AND generation = 0 AND dedupe_period IS NOT NULL
        AND accepted_at > now() - $2::bigint * interval '1 millisecond'
      ORDER BY accepted_at DESC
      LIMIT 1) r
    LEFT JOIN event_duplicates c
      ON c.event_id = $1 AND c.generation = 0 AND c.last_at >= r.accepted_at)
  SELECT x.*, x.accepted_at + $2::bigint * interval '1 millisecond' AS window_ends_at
  FROM (SELECT * FROM claimed UNION ALL SELECT * FROM logged) x
  ORDER BY x.accepted_at DESC
  LIMIT 1`;
