/**
 * Every statement of the Postgres transport, in one place. The log is `raw_events`; a consumer
 * group's position is one row per partition in `consumer_leases`.
 */

/** Creates the partitions once, when the log is new; the count never changes afterwards. */
export const createPartitions = `
  INSERT INTO log_partitions (partition)
  SELECT generate_series(0, $1::int - 1)
  WHERE NOT EXISTS (SELECT 1 FROM log_partitions)
  ON CONFLICT DO NOTHING`;

export const countPartitions = 'SELECT count(*)::int AS n FROM log_partitions';

/**
 * Locks the partition counters an append will advance, in partition order so that two
 * appenders never wait on each other in a cycle.
 */
export const lockPartitions = `
  SELECT partition FROM log_partitions
  WHERE partition = ANY($1::int[])
  ORDER BY partition
  FOR UPDATE`;

/**
 * Appends messages ($1: JSON array of {i, event_id, generation, topic, event_type, key,
 * partition, payload, headers}) to their partitions, handing out consecutive offsets, and
 * returns the ids it stored; ids already in the log are skipped (idempotent publish). When it
 * stored any, it notifies channel $2 (delivered at commit) so that listening consumers wake.
 */
export const append = `
  WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS m(
      i int, event_id text, generation int, topic text, event_type text, key text,
      partition int, payload jsonb, headers jsonb)
  ),
  fresh AS (
    SELECT input.* FROM input
    WHERE NOT EXISTS (
      SELECT 1 FROM raw_events r
      WHERE r.event_id = input.event_id AND r.generation = input.generation)
  ),
  counts AS (SELECT partition, count(*) AS n FROM fresh GROUP BY partition),
  advanced AS (
    UPDATE log_partitions p SET next_offset = p.next_offset + c.n
    FROM counts c WHERE p.partition = c.partition
    RETURNING p.partition, p.next_offset - c.n AS base
  ),
  inserted AS (
    INSERT INTO raw_events (partition, "offset", event_id, generation, topic, event_type, key,
                            payload, headers)
    SELECT f.partition,
           a.base + row_number() OVER (PARTITION BY f.partition ORDER BY f.i) - 1,
           f.event_id, f.generation, f.topic, f.event_type, f.key, f.payload, f.headers
    FROM fresh f JOIN advanced a ON a.partition = f.partition
    ON CONFLICT (event_id, generation) DO NOTHING
    RETURNING event_id
  ),
  -- One row when anything was stored (a volatile CTE runs once), none otherwise.
  announced AS (
    SELECT pg_notify($2, current_schema()) WHERE EXISTS (SELECT 1 FROM inserted)
  )
  SELECT event_id FROM inserted, announced`;

/** The channel appends are announced on; the payload is the appender's schema. */
export const APPENDED_CHANNEL = 'herald_log_appended';

export const joinGroup = `
  INSERT INTO consumer_leases (group_id, partition)
  SELECT $1, partition FROM log_partitions
  ON CONFLICT DO NOTHING`;

/**
 * Leases up to $4 partitions of group $1 that have unread messages and are free (never leased,
 * released, or whose owner let the lease expire) to consumer $2 for $3 milliseconds. The least
 * recently served partitions go first, so every partition gets its turn.
 */
export const claimPartitions = `
  UPDATE consumer_leases l
  SET owner = $2, lease_expires_at = now() + $3::int * interval '1 millisecond'
  FROM (
    SELECT c.partition FROM consumer_leases c
    JOIN log_partitions p ON p.partition = c.partition
    WHERE c.group_id = $1
      AND p.next_offset - 1 > c.committed_offset
      AND (c.lease_expires_at IS NULL OR c.lease_expires_at < now())
    ORDER BY c.lease_expires_at NULLS FIRST, c.partition
    LIMIT $4
    FOR UPDATE OF c SKIP LOCKED
  ) free
  WHERE l.group_id = $1 AND l.partition = free.partition
  RETURNING l.partition, l.committed_offset`;

/**
 * The next messages of each claimed partition ($1 partitions, $2 their committed offsets), at
 * most $3 per partition, in partition then offset order.
 */
export const fetchBatch = `
  SELECT r.partition, r."offset", r.event_id, r.generation, r.topic, r.event_type, r.key,
         r.payload, r.headers, r.accepted_at
  FROM unnest($1::int[], $2::bigint[]) AS c(partition, committed)
  CROSS JOIN LATERAL (
    SELECT * FROM raw_events
    WHERE partition = c.partition AND "offset" > c.committed
    ORDER BY "offset"
    LIMIT $3
  ) r
  ORDER BY r.partition, r."offset"`;

export const renewLeases = `
  UPDATE consumer_leases SET lease_expires_at = now() + $3::int * interval '1 millisecond'
  WHERE group_id = $1 AND partition = ANY($4::int[]) AND owner = $2`;

/**
 * Commits the group's offsets for partitions $2 (through $4, each) and releases them, only
 * those consumer $3 still owns; $5 ms (each) is how long nobody may claim one (a retry's
 * backoff). A partition missing from the rows back was lost to another consumer, which
 * redelivers from the last committed offset.
 */
export const commitAndRelease = `
  UPDATE consumer_leases l
  SET committed_offset = GREATEST(l.committed_offset, c.through),
      owner = NULL,
      lease_expires_at = now() + c.retry_ms * interval '1 millisecond'
  FROM unnest($2::int[], $4::bigint[], $5::int[]) AS c(partition, through, retry_ms)
  WHERE l.group_id = $1 AND l.partition = c.partition AND l.owner = $3
  RETURNING l.partition`;

export const groupLag = `
  SELECT p.partition,
         GREATEST(p.next_offset - 1 - COALESCE(c.committed_offset, -1), 0)::int AS lag
  FROM log_partitions p
  LEFT JOIN consumer_leases c ON c.partition = p.partition AND c.group_id = $1
  ORDER BY p.partition`;
