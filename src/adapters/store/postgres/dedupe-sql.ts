/** Every statement of the dedupe window (event_dedupe, migration 011), in one place. */

/** $1 confirms, $2 claims (JSON arrays), $3 the window in ms: dedupe_claim (migration 011). */
export const claimIds = `
  SELECT claim_index, claim_slot, is_duplicate FROM dedupe_claim($1::jsonb, $2::jsonb, $3::bigint)`;

/**
 * The latest acceptance of event $1 within the window ($2 ms) in the two live slots, whatever
 * the broker recorded it through.
 */
export const lookupId = `
  SELECT d.accepted_at, d.partition, d."offset", d.duplicates, d.last_duplicate_at,
         d.accepted_at + $2::bigint * interval '1 millisecond' AS window_ends_at
  FROM event_dedupe d, dedupe_slots($2::bigint) s
  WHERE d.slot IN (s.current_slot, s.previous_slot) AND d.event_id = $1 AND d.generation = 0
    AND d.confirmed AND d.accepted_at > now() - $2::bigint * interval '1 millisecond'
  ORDER BY d.accepted_at DESC
  LIMIT 1`;
