/**
 * Every analytics statement, in one place: the rollups the worker maintains as it persists a
 * batch, and the reads the analytics API makes of them. Buckets are UTC (`date_trunc(…, 'UTC')`,
 * whatever the session's TimeZone); event time is `processed_events.occurred_at`.
 */

/** Adds two jsonb maps of counts key by key (`{a:1} + {a:2,b:1}` → `{a:3,b:1}`). */
function addCounts(left: string, right: string): string {
  return `CASE WHEN ${right} = '{}'::jsonb THEN ${left} ELSE (
      SELECT jsonb_object_agg(k, total) FROM (
        SELECT k, sum(v::numeric) AS total
        FROM (SELECT * FROM jsonb_each_text(${left}) UNION ALL SELECT * FROM jsonb_each_text(${right}))
          AS x(k, v)
        GROUP BY k) AS sums) END`;
}

// The metadata object of an analytics event, or the properties of an EventFlow event.
const details = `coalesce(i.payload->'metadata', i.payload->'properties')`;

/**
 * Wraps the statement inserting a batch into processed_events (`... ON CONFLICT DO NOTHING`)
 * so that the same statement updates every rollup from the rows it actually inserted: a
 * duplicate or a redelivered event inserts nothing and so counts nothing. Each rollup is one
 * upsert per group in the batch (rows sorted by key, so concurrent batches lock in one order),
 * not per event. Returns the number of rows inserted.
 */
export function withRollups(insert: string): string {
  return `
  WITH inserted AS (${insert}
    RETURNING topic, event_type, key, payload, enrichment, occurred_at AS at, processed_at),
  f AS (
    SELECT i.topic, i.event_type, i.key, i.at, i.processed_at,
      left(m.d->>'page', 256) AS page, left(m.d->>'source', 256) AS source,
      CASE WHEN i.topic = 'chemical' THEN left(i.payload->>'researcher', 256) END AS researcher,
      i.enrichment->'chemistry' AS chem
    FROM inserted i CROSS JOIN LATERAL (SELECT ${details} AS d) m),
  counts AS (
    INSERT INTO analytics_counts AS c (grain, bucket, event_type, topic, n)
    SELECT g.grain, date_trunc(g.grain, f.at, 'UTC'), f.event_type, f.topic, count(*)
    FROM f CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS g(grain)
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (grain, bucket, event_type, topic) DO UPDATE SET n = c.n + EXCLUDED.n),
  dimensions AS (
    INSERT INTO analytics_dimensions AS d (dimension, grain, bucket, value, n)
    SELECT x.dimension, g.grain, date_trunc(g.grain, f.at, 'UTC'), x.value, count(*)
    FROM f CROSS JOIN LATERAL (VALUES ('page', f.page), ('source', f.source)) AS x(dimension, value)
      CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
    WHERE x.value IS NOT NULL
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (dimension, grain, bucket, value) DO UPDATE SET n = d.n + EXCLUDED.n),
  rf AS (
    SELECT researcher, key AS molecule_id, at, chem->>'hill_formula' AS formula,
      CASE WHEN jsonb_typeof(chem->'reported_weight') = 'number'
        THEN (chem->>'reported_weight')::float8 END AS weight,
      chem->'weight_matches' = 'false'::jsonb AS mismatch
    FROM f WHERE researcher IS NOT NULL),
  researcher_formulas AS (
    SELECT researcher, jsonb_object_agg(formula, n) AS formulas FROM (
      SELECT researcher, formula, count(*) AS n FROM rf WHERE formula IS NOT NULL GROUP BY 1, 2) g
    GROUP BY 1),
  researchers AS (
    INSERT INTO analytics_researchers AS r (researcher, submissions, first_seen, last_seen,
      weighed, weight_sum, mismatches, formulas)
    SELECT t.researcher, t.submissions, t.lo, t.hi, t.weighed, t.weight_sum, t.mismatches,
      coalesce(x.formulas, '{}')
    FROM (
      SELECT researcher, count(*) AS submissions, min(at) AS lo, max(at) AS hi,
        count(weight) AS weighed, coalesce(sum(weight), 0) AS weight_sum,
        count(*) FILTER (WHERE mismatch) AS mismatches
      FROM rf GROUP BY 1) t
    LEFT JOIN researcher_formulas x USING (researcher)
    ORDER BY t.researcher
    ON CONFLICT (researcher) DO UPDATE SET
      submissions = r.submissions + EXCLUDED.submissions,
      first_seen = least(r.first_seen, EXCLUDED.first_seen),
      last_seen = greatest(r.last_seen, EXCLUDED.last_seen),
      weighed = r.weighed + EXCLUDED.weighed,
      weight_sum = r.weight_sum + EXCLUDED.weight_sum,
      mismatches = r.mismatches + EXCLUDED.mismatches,
      formulas = ${addCounts('r.formulas', 'EXCLUDED.formulas')}),
  molecules AS (
    INSERT INTO analytics_researcher_molecules AS m (researcher, molecule_id, submissions,
      first_seen, last_seen)
    SELECT researcher, molecule_id, count(*), min(at), max(at) FROM rf
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (researcher, molecule_id) DO UPDATE SET
      submissions = m.submissions + EXCLUDED.submissions,
      first_seen = least(m.first_seen, EXCLUDED.first_seen),
      last_seen = greatest(m.last_seen, EXCLUDED.last_seen)),
  days AS (
    INSERT INTO analytics_researcher_days AS d (researcher, day, n)
    SELECT researcher, date_trunc('day', at, 'UTC'), count(*) FROM rf
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (researcher, day) DO UPDATE SET n = d.n + EXCLUDED.n),
  throughput AS (
    INSERT INTO analytics_throughput AS t (bucket, n)
    SELECT date_trunc('minute', processed_at, 'UTC'), count(*) FROM f GROUP BY 1 ORDER BY 1
    ON CONFLICT (bucket) DO UPDATE SET n = t.n + EXCLUDED.n)
  SELECT count(*)::int AS inserted FROM inserted`;
}

// ---- reads -------------------------------------------------------------------------------

/** A purchase's amount: the first of amount, revenue, price that is a JSON number. */
const amount = `CASE
      WHEN event_type <> 'purchase' THEN NULL
      WHEN jsonb_typeof(d->'amount') = 'number' THEN (d->>'amount')::numeric
      WHEN jsonb_typeof(d->'revenue') = 'number' THEN (d->>'revenue')::numeric
      WHEN jsonb_typeof(d->'price') = 'number' THEN (d->>'price')::numeric
    END`;

/**
 * A user's events, read through the (user_id, occurred_at) index. Kept out of the worker's
 * rollups on purpose: a per-user upsert per batch would cost the worker more than everything
 * else together, and the summary needs one pass over the user's events for sessions anyway.
 */
const userEvents = `
  SELECT p.event_type, p.occurred_at, m.d FROM processed_events p
  CROSS JOIN LATERAL (SELECT coalesce(p.payload->'metadata', p.payload->'properties') AS d) m
  WHERE p.user_id = $1`;

/**
 * $1 user id, $2 the inactivity gap that starts a new session (an interval): no row when the
 * user has no event.
 */
export const userSummary = `
  SELECT count(*)::int AS events, min(occurred_at) AS first_seen, max(occurred_at) AS last_seen,
    count(*) FILTER (WHERE gap IS NULL OR gap > $2::interval)::int AS sessions,
    count(*) FILTER (WHERE event_type = 'purchase')::int AS purchases,
    coalesce(sum(amount), 0)::float8 AS revenue
  FROM (
    SELECT event_type, occurred_at, ${amount} AS amount,
      occurred_at - lag(occurred_at) OVER (ORDER BY occurred_at) AS gap
    FROM (${userEvents}) e
  ) s
  HAVING count(*) > 0`;

/** $1 user id: their events counted by type, by page and by source, in one pass. */
export const userBreakdown = `
  SELECT CASE WHEN GROUPING(event_type) = 0 THEN 'type'
      WHEN GROUPING(page) = 0 THEN 'page' ELSE 'source' END AS dimension,
    coalesce(event_type, page, source) AS value, count(*)::int AS n
  FROM (SELECT event_type, left(d->>'page', 256) AS page, left(d->>'source', 256) AS source
        FROM (${userEvents}) e) x
  GROUP BY GROUPING SETS ((event_type), (page), (source))`;

/** $1 user id, $2 limit; latest first by event time. */
export const userRecentEvents = `
  SELECT event_id, topic, event_type, occurred_at, payload FROM processed_events
  WHERE user_id = $1 ORDER BY occurred_at DESC, event_id DESC LIMIT $2`;

/** $1 researcher. */
export const researcherSummary = `
  SELECT r.researcher, r.submissions, r.first_seen, r.last_seen, r.weighed, r.weight_sum,
    r.mismatches, r.formulas,
    (SELECT count(*) FROM analytics_researcher_molecules m WHERE m.researcher = r.researcher)::int
      AS molecules
  FROM analytics_researchers r WHERE r.researcher = $1`;

/** $1 researcher: submissions per UTC day, oldest first. */
export const researcherDays = `
  SELECT day, n FROM analytics_researcher_days WHERE researcher = $1 ORDER BY day`;

/**
 * $1 researcher, $2 how many of their latest molecules: each molecule's latest answering agent
 * run (agent_runs, issue 6).
 */
export const researcherAgentRuns = `
  SELECT a.molecule_id, a.agent, a.model, a.status, a.output, a.created_at
  FROM (SELECT molecule_id FROM analytics_researcher_molecules WHERE researcher = $1
        ORDER BY last_seen DESC, molecule_id LIMIT $2) m
  CROSS JOIN LATERAL (
    SELECT r.molecule_id, r.agent, r.model, r.status, r.output, r.created_at FROM agent_runs r
    WHERE r.molecule_id = m.molecule_id AND r.output IS NOT NULL
      AND r.status IN ('succeeded', 'cached', 'fallback', 'offline')
    ORDER BY r.run_id DESC LIMIT 1) a
  ORDER BY a.created_at DESC, a.molecule_id`;

/** $1 grain, $2 from, $3 to, $4 event type or null (all types). */
export const series = `
  SELECT bucket, sum(n)::bigint AS n FROM analytics_counts
  WHERE grain = $1 AND bucket >= $2 AND bucket < $3 AND ($4::text IS NULL OR event_type = $4)
  GROUP BY bucket ORDER BY bucket`;

/**
 * A range as pieces of rollup: hour rows [$1, $2) and [$5, $6), day rows [$3, $4), all added,
 * and hour rows [$7, $8) and [$9, $10) subtracted (hours of a day read whole that lie outside
 * the range); an unused piece is an empty range.
 */
const covered = `(
    (grain = 'hour' AND bucket >= $1 AND bucket < $2)
    OR (grain = 'day' AND bucket >= $3 AND bucket < $4)
    OR (grain = 'hour' AND bucket >= $5 AND bucket < $6)
    OR (grain = 'hour' AND bucket >= $7 AND bucket < $8)
    OR (grain = 'hour' AND bucket >= $9 AND bucket < $10))`;

/** A rollup row's count, negative in a subtracted piece. */
const signedCount = `CASE WHEN grain = 'hour'
    AND ((bucket >= $7 AND bucket < $8) OR (bucket >= $9 AND bucket < $10)) THEN -n ELSE n END`;

/** Covering range $1..$10, $11 limit. */
export const topTypes = `
  SELECT event_type AS value, sum(${signedCount})::bigint AS n FROM analytics_counts
  WHERE ${covered}
  GROUP BY 1 HAVING sum(${signedCount}) > 0 ORDER BY 2 DESC, 1 LIMIT $11`;

/** Covering range $1..$10, $11 limit, $12 dimension (page, source). */
export const topDimension = `
  SELECT value, sum(${signedCount})::bigint AS n FROM analytics_dimensions
  WHERE dimension = $12 AND ${covered}
  GROUP BY 1 HAVING sum(${signedCount}) > 0 ORDER BY 2 DESC, 1 LIMIT $11`;

/** Covering range $1..$10: events in it. */
export const rangeTotal = `
  SELECT coalesce(sum(${signedCount}), 0)::bigint AS n FROM analytics_counts WHERE ${covered}`;

/**
 * One funnel step's events: $1 event type, $2 from, $3 to (exclusive), users with an id only.
 * One index-only range scan of processed_events_type_time, packed into two strings rather
 * than one row per event (tens of thousands of rows cost more to send and decode than to
 * scan): `users` is each event's user id, separated by U+0001; `times` is each event's
 * occurred_at as PostgreSQL sends it in binary (8 bytes, big-endian microseconds since
 * 2000-01-01 UTC). Both aggregates of one Agg node see the rows in the same order, so the n-th
 * user and the n-th time belong to the same event. NULLs when there is none.
 * A user id may itself hold U+0001: the reader then sees more users than times and reads the
 * step again with funnelStepEventsNulSeparated.
 */
export const funnelStepEvents = `
  SELECT string_agg(user_id, chr(1)) AS users,
    string_agg(timestamptz_send(occurred_at), ''::bytea) AS times
  FROM processed_events
  WHERE event_type = $1 AND occurred_at >= $2 AND occurred_at < $3 AND user_id IS NOT NULL`;

/**
 * funnelStepEvents with the user ids as UTF-8 bytes separated by NUL, which text cannot hold:
 * always unambiguous, a little dearer to build.
 */
export const funnelStepEventsNulSeparated = `
  SELECT string_agg(textsend(user_id), '\\x00'::bytea) AS users,
    string_agg(timestamptz_send(occurred_at), ''::bytea) AS times
  FROM processed_events
  WHERE event_type = $1 AND occurred_at >= $2 AND occurred_at < $3 AND user_id IS NOT NULL`;

/**
 * funnelStepEvents beside sealed segments (migration 007): users the sealer has numbered come
 * as `numbers` (int4, big-endian) with `numbered_times`, the others as NUL-separated UTF-8
 * `users` with `times`, so that a user is the same key in raw events and in segments. Read in
 * the segments' snapshot (snapshot-sql.ts): a user in a segment has its number here too.
 */
export const funnelStepEventsNumbered = `
  SELECT string_agg(textsend(e.user_id), '\\x00'::bytea) FILTER (WHERE u.num IS NULL) AS users,
    string_agg(timestamptz_send(e.occurred_at), ''::bytea) FILTER (WHERE u.num IS NULL) AS times,
    string_agg(int4send(u.num), ''::bytea) FILTER (WHERE u.num IS NOT NULL) AS numbers,
    string_agg(timestamptz_send(e.occurred_at), ''::bytea)
      FILTER (WHERE u.num IS NOT NULL) AS numbered_times
  FROM processed_events e LEFT JOIN analytics_user_numbers u ON u.user_id = e.user_id
  WHERE e.event_type = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
    AND e.user_id IS NOT NULL`;

/**
 * The sealed segments of types $1 in hours [$2, $3) that still hold every event of their hour
 * (their count equals the hour rollup's). The arrays come as base64, not as bytea's hex text:
 * two thirds of the characters to send and decode.
 */
export const funnelSegments = `
  SELECT s.event_type, s.hour, encode(s.users, 'base64') AS users,
    encode(s.times, 'base64') AS times
  FROM analytics_funnel_segments s
  WHERE s.event_type = ANY($1::text[]) AND s.hour >= $2 AND s.hour < $3
    AND s.n = (SELECT sum(c.n) FROM analytics_counts c
               WHERE c.grain = 'hour' AND c.bucket = s.hour AND c.event_type = s.event_type)`;

/**
 * Closed hours (before the current one) of an event type with at least $1 events whose
 * segment is missing, or stale and sealed more than $3 ms ago (an hour that keeps receiving
 * late events is not packed again and again), newest first, at most $2.
 */
export const unsealedHours = `
  SELECT c.event_type, c.bucket AS hour
  FROM (
    SELECT event_type, bucket, sum(n) AS n FROM analytics_counts
    WHERE grain = 'hour' AND bucket < date_trunc('hour', now(), 'UTC')
    GROUP BY 1, 2 HAVING sum(n) >= $1
  ) c
  LEFT JOIN analytics_funnel_segments s ON s.event_type = c.event_type AND s.hour = c.bucket
  WHERE s.n IS NULL
    OR (s.n <> c.n AND s.sealed_at < now() - $3::int * interval '1 millisecond')
  ORDER BY c.bucket DESC, c.event_type
  LIMIT $2`;

/**
 * Seals hours $2 of types $1 (pairwise): numbers the users not numbered yet, then packs each
 * hour's events into its segment, in one statement (one snapshot: the users it numbers are
 * the users it packs). A user it could not number (another sealer numbered them after this
 * snapshot) makes the segment stale from the start (n = -1) rather than short of an event.
 */
export const sealHours = `
  WITH pair AS (SELECT * FROM unnest($1::text[], $2::timestamptz[]) AS p(event_type, hour)),
  ev AS (
    SELECT pair.event_type, pair.hour, e.user_id, e.occurred_at
    FROM pair JOIN processed_events e ON e.event_type = pair.event_type
      AND e.occurred_at >= pair.hour AND e.occurred_at < pair.hour + interval '1 hour'),
  fresh AS (
    INSERT INTO analytics_user_numbers (user_id)
    SELECT DISTINCT ev.user_id FROM ev
    WHERE ev.user_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM analytics_user_numbers u WHERE u.user_id = ev.user_id)
    ORDER BY 1
    ON CONFLICT DO NOTHING
    RETURNING user_id, num),
  numbered AS (
    SELECT ev.event_type, ev.hour, ev.user_id, ev.occurred_at, coalesce(u.num, f.num) AS num,
      -- Microseconds after the UTC hour, in float8 (exact: below 2^52), not numeric: a third
      -- of the cost of extract(epoch ...) on every event sealed.
      (date_part('minute', ev.occurred_at AT TIME ZONE 'UTC') * 60000000
        + date_part('microseconds', ev.occurred_at AT TIME ZONE 'UTC'))::bigint AS micros_in_hour
    FROM ev
    LEFT JOIN analytics_user_numbers u ON u.user_id = ev.user_id
    LEFT JOIN fresh f ON f.user_id = ev.user_id),
  packed AS (
    SELECT pair.event_type, pair.hour,
      CASE WHEN count(x.user_id) FILTER (WHERE x.num IS NULL) > 0 THEN -1
           ELSE count(x.occurred_at) END AS n,
      coalesce(string_agg(int4send(x.num), ''::bytea) FILTER (WHERE x.num IS NOT NULL),
               ''::bytea) AS users,
      coalesce(string_agg(int4send((x.micros_in_hour - 2147483648)::int), ''::bytea)
                 FILTER (WHERE x.num IS NOT NULL), ''::bytea) AS times
    FROM pair LEFT JOIN numbered x ON x.event_type = pair.event_type AND x.hour = pair.hour
    GROUP BY 1, 2)
  INSERT INTO analytics_funnel_segments AS s (event_type, hour, n, users, times)
  SELECT event_type, hour, n, users, times FROM packed ORDER BY 1, 2
  ON CONFLICT (event_type, hour) DO UPDATE
    SET n = EXCLUDED.n, users = EXCLUDED.users, times = EXCLUDED.times, sealed_at = now()
  RETURNING s.event_type`;

/** Processed events by topic and type since the beginning (from the day rollup). */
export const totals = `
  SELECT topic, event_type, sum(n)::bigint AS n, min(bucket) AS first_day, max(bucket) AS last_day
  FROM analytics_counts WHERE grain = 'day' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`;

/** $1 since: events persisted per minute of processing time. */
export const throughput = `
  SELECT bucket, n FROM analytics_throughput WHERE bucket >= $1 ORDER BY bucket`;

/** $1 since: failures (failed_events stays small: it holds failures only). */
export const failures = `
  SELECT count(*) FILTER (WHERE status = 'dead')::bigint AS dead,
    count(*) FILTER (WHERE status = 'retrying')::bigint AS retrying,
    count(*) FILTER (WHERE status = 'dead' AND last_failed_at >= $1)::bigint AS dead_recent
  FROM failed_events WHERE status IN ('dead', 'retrying')`;
