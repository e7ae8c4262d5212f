/**
 * Every statement of the Postgres log over time (segments, retention, range reads), in one
 * place. The segments themselves are made by log_roll and log_create_segment (migration 011).
 */

/** Opens the next segment if the current one is older than $1 ms (or $2: now): its number. */
export const roll = 'SELECT log_roll($1::bigint, $2::boolean) AS segment';

export const segments = `
  SELECT segment, opened_at, closed_at, dropped_at FROM log_segments ORDER BY segment`;

/** When the oldest event still in the log was accepted ($1: the oldest live segment). */
export const oldestAccepted = `
  SELECT min(accepted_at) AS at FROM raw_events WHERE segment >= $1`;

export const groups = 'SELECT DISTINCT group_id FROM consumer_leases ORDER BY group_id';

/**
 * The live segments closed before $1, oldest first, each with the groups that have not
 * committed past its end in some partition, and how many offsets it spans (its end offsets
 * minus the previous segment's).
 */
export const expiredSegments = `
  WITH s AS (
    SELECT segment, closed_at, dropped_at, end_offsets,
           lag(end_offsets) OVER (ORDER BY segment) AS previous_ends
    FROM log_segments
  )
  SELECT s.segment, s.closed_at,
    coalesce(array_agg(DISTINCT c.group_id)
      FILTER (WHERE c.committed_offset < s.end_offsets[c.partition + 1]), '{}') AS held_by,
    coalesce((SELECT sum(e.last - coalesce(s.previous_ends[e.i], -1))
              FROM unnest(s.end_offsets) WITH ORDINALITY AS e(last, i)), 0)::bigint AS offsets
  FROM s LEFT JOIN consumer_leases c ON true
  WHERE s.dropped_at IS NULL AND s.closed_at IS NOT NULL AND s.closed_at < $1
  GROUP BY s.segment, s.closed_at, s.end_offsets, s.previous_ends
  ORDER BY s.segment`;

/** Whether segment table $1 is still a partition of raw_events, and if a detach is pending. */
export const attachment = `
  SELECT i.inhdetachpending AS pending FROM pg_inherits i
  WHERE i.inhrelid = to_regclass($1) AND i.inhparent = 'raw_events'::regclass`;

export const markDropped = 'UPDATE log_segments SET dropped_at = now() WHERE segment = $1';

/**
 * The live segments that may hold events accepted in [$1, $2): a row's accepted_at is its
 * transaction's start, which can precede its segment's opening by the time it waited for the
 * partition's lock, hence the minute of margin.
 */
export const segmentsBetween = `
  SELECT min(segment) AS first, max(segment) AS last FROM log_segments
  WHERE dropped_at IS NULL AND (closed_at IS NULL OR closed_at >= $1)
    AND opened_at < $2::timestamptz + interval '1 minute'`;

/**
 * A page of a selection in one segment ($1), after position ($2 partition, $3 offset): events
 * accepted in [$4, $5) of topics $6, types $7 and keys $8 (null: any), in partitions $9 (null:
 * all), at most $10, in partition then offset order (the segment's position index).
 */
export const readSegment = `
  SELECT partition, "offset", event_id, generation, topic, event_type, key, payload, headers,
         accepted_at
  FROM raw_events
  WHERE segment = $1 AND (partition, "offset") > ($2::int, $3::bigint)
    AND accepted_at >= $4 AND accepted_at < $5 AND generation = 0
    AND topic = ANY($6::text[])
    AND ($7::text[] IS NULL OR event_type = ANY($7::text[]))
    AND ($8::text[] IS NULL OR key = ANY($8::text[]))
    AND ($9::int[] IS NULL OR partition = ANY($9::int[]))
  ORDER BY partition, "offset"
  LIMIT $10`;

export const forgetGroup = 'DELETE FROM consumer_leases WHERE group_id = $1 RETURNING partition';
