/**
 * Every statement of the Postgres transport, in one place. The log is `raw_events`, in time
 * segments (migration 011); a consumer group's position is one row per partition in
 * `consumer_leases`, with a lower bound of its segment so that fetches read recent segments.
 */

/**
 * Creates the partitions once, when the log is new, in the current segment; the count never
 * changes afterwards.
 */
export const createPartitions = `
  INSERT INTO log_partitions (partition, segment)
  SELECT generate_series(0, $1::int - 1),
         coalesce((SELECT max(segment) FROM log_segments), 0)
  WHERE NOT EXISTS (SELECT 1 FROM log_partitions)
  ON CONFLICT DO NOTHING`;

export const countPartitions = 'SELECT count(*)::int AS n FROM log_partitions';

/**
 * Appends messages ($1: JSON array of {i, event_id, generation, topic, event_type, key,
 * partition, payload, headers}; $2 their distinct partitions) in one round trip and returns
 * the ids it stored; ids accepted within the dedupe window ($4 ms) are skipped (idempotent
 * publish), counted on the original's event_dedupe row, and leave a gap in their partition's
 * offsets. When it stored any, it notifies channel $3 (delivered at commit). The function
 * (migration 011) locks the partitions' counters in order first.
 */
export const append = 'SELECT log_append($1::jsonb, $2::int[], $3, $4::bigint) AS event_id';

/** The channel appends are announced on; the payload is the appender's schema. */
export const APPENDED_CHANNEL = 'herald_log_appended';

export const joinGroup = `
  INSERT INTO consumer_leases (group_id, partition)
  SELECT $1, partition FROM log_partitions
  ON CONFLICT DO NOTHING`;

/**
 * Leases up to $4 partitions of group $1 that have unread messages and are free (never leased,
 * released, or whose owner let the lease expire) to consumer $2 for $3 milliseconds. The least
 * recently served partitions go first, so every partition gets its turn. `end_offset` is the
 * partition's last offset handed out: every append up to it has committed (appends hold the
 * counter's lock until they commit), so what a read finds below it is all there is, and the
 * rest are gaps left by skipped duplicates.
 */
export const claimPartitions = `
  UPDATE consumer_leases l
  SET owner = $2, lease_expires_at = now() + $3::int * interval '1 millisecond'
  FROM (
    SELECT c.partition, p.next_offset - 1 AS end_offset FROM consumer_leases c
    JOIN log_partitions p ON p.partition = c.partition
    WHERE c.group_id = $1
      AND p.next_offset - 1 > c.committed_offset
      AND (c.lease_expires_at IS NULL OR c.lease_expires_at < now())
    ORDER BY c.lease_expires_at NULLS FIRST, c.partition
    LIMIT $4
    FOR UPDATE OF c SKIP LOCKED
  ) free
  WHERE l.group_id = $1 AND l.partition = free.partition
  RETURNING l.partition, l.committed_offset, l.committed_segment, free.end_offset`;

/**
 * The next messages of each claimed partition ($1 partitions, $2 their committed offsets, $4
 * their committed segments), at most $3 per partition, in partition then offset order. The
 * segment bound prunes the segments before the committed position (run-time partition pruning):
 * a consumer near the head reads one or two segments' indexes, however long the log is.
 */
export const fetchBatch = `
  SELECT r.partition, r."offset", r.event_id, r.generation, r.topic, r.event_type, r.key,
         r.payload, r.headers, r.accepted_at, r.segment
  FROM unnest($1::int[], $2::bigint[], $4::int[]) AS c(partition, committed, segment)
  CROSS JOIN LATERAL (
    SELECT * FROM raw_events
    WHERE partition = c.partition AND segment >= c.segment AND "offset" > c.committed
    ORDER BY "offset"
    LIMIT $3
  ) r
  ORDER BY r.partition, r."offset"`;

export const renewLeases = `
  UPDATE consumer_leases SET lease_expires_at = now() + $3::int * interval '1 millisecond'
  WHERE group_id = $1 AND partition = ANY($4::int[]) AND owner = $2`;

/**
 * Commits the group's offsets for partitions $2 (through $4, each, with $6 the segment of a
 * row at or before it) and releases them, only those consumer $3 still owns; $5 ms (each) is
 * how long nobody may claim one (a retry's backoff). A partition missing from the rows back was
 * lost to another consumer, which redelivers from the last committed offset.
 */
export const commitAndRelease = `
  UPDATE consumer_leases l
  SET committed_offset = GREATEST(l.committed_offset, c.through),
      committed_segment = GREATEST(l.committed_segment, c.segment),
      owner = NULL,
      lease_expires_at = now() + c.retry_ms * interval '1 millisecond'
  FROM unnest($2::int[], $4::bigint[], $5::int[], $6::int[])
    AS c(partition, through, retry_ms, segment)
  WHERE l.group_id = $1 AND l.partition = c.partition AND l.owner = $3
  RETURNING l.partition`;

export const groupLag = `
  SELECT p.partition,
         GREATEST(p.next_offset - 1 - COALESCE(c.committed_offset, -1), 0)::int AS lag
  FROM log_partitions p
  LEFT JOIN consumer_leases c ON c.partition = p.partition AND c.group_id = $1
  ORDER BY p.partition`;

/**
 * Group $1's position on every partition: the committed offset, the lag, and the message at
 * the head (the first row past the committed offset; none when only gaps follow).
 */
export const groupPositions = `
  SELECT p.partition,
         COALESCE(c.committed_offset, -1) AS committed,
         GREATEST(p.next_offset - 1 - COALESCE(c.committed_offset, -1), 0)::int AS lag,
         h.event_id AS head_id, h."offset" AS head_offset, h.generation AS head_generation
  FROM log_partitions p
  LEFT JOIN consumer_leases c ON c.partition = p.partition AND c.group_id = $1
  LEFT JOIN LATERAL (
    SELECT r.event_id, r."offset", r.generation FROM raw_events r
    WHERE r.partition = p.partition AND r."offset" > COALESCE(c.committed_offset, -1)
    ORDER BY r."offset"
    LIMIT 1
  ) h ON p.next_offset - 1 > COALESCE(c.committed_offset, -1)
  ORDER BY p.partition`;
