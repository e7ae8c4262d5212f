-- Analytics rollups (issue 5). The worker keeps them in the statement that persists a batch
-- (sql.ts insertProcessed), counting only the rows that statement actually inserted, so a
-- redelivered event never counts twice. Buckets are UTC; event time is occurred_at.
-- User summaries are not rolled up: they read the user's events through the
-- (user_id, occurred_at) index (a per-user upsert per batch would cost the worker more than all
-- the rollups below together). Rollup rows are updated in place many times: fillfactor leaves
-- room on each page so those updates stay HOT (no new index entries, no index bloat).

-- An event without a timestamp happened when it was accepted (as the API documents): time
-- ranges, funnels and sessions then need one column only.
UPDATE processed_events SET occurred_at = accepted_at WHERE occurred_at IS NULL;

-- Funnels find their entries by (event type, time) and each user's next step by (user, time,
-- event type): carrying user_id and event_type in the two existing indexes lets both be
-- index-only scans. Same index count per event as before, so no extra write.
DROP INDEX processed_events_type_time;

CREATE INDEX processed_events_type_time ON processed_events (event_type, occurred_at)
  INCLUDE (user_id);

DROP INDEX processed_events_user;

CREATE INDEX processed_events_user ON processed_events (user_id, occurred_at)
  INCLUDE (event_type);

-- Events per (grain, bucket, event type, topic); grain is minute, hour or day. Series read one
-- grain; totals read the day rows.
CREATE TABLE analytics_counts (
  grain text NOT NULL CHECK (grain IN ('minute', 'hour', 'day')),
  bucket timestamptz NOT NULL,
  event_type text NOT NULL,
  topic text NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (grain, bucket, event_type, topic)
) WITH (fillfactor = 50);

-- Events per page and per source (metadata.page / properties.page ...), hourly and daily, for
-- top-N breakdowns.
CREATE TABLE analytics_dimensions (
  dimension text NOT NULL CHECK (dimension IN ('page', 'source')),
  grain text NOT NULL CHECK (grain IN ('hour', 'day')),
  bucket timestamptz NOT NULL,
  value text NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (dimension, grain, bucket, value)
) WITH (fillfactor = 50);

-- One summary row per researcher (chemical events); formulas counts submissions by Hill formula.
CREATE TABLE analytics_researchers (
  researcher text PRIMARY KEY,
  submissions bigint NOT NULL,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  weighed bigint NOT NULL DEFAULT 0,
  weight_sum double precision NOT NULL DEFAULT 0,
  mismatches bigint NOT NULL DEFAULT 0,
  formulas jsonb NOT NULL DEFAULT '{}'
) WITH (fillfactor = 50);

CREATE TABLE analytics_researcher_molecules (
  researcher text NOT NULL,
  molecule_id text NOT NULL,
  submissions bigint NOT NULL,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  PRIMARY KEY (researcher, molecule_id)
) WITH (fillfactor = 50);

CREATE TABLE analytics_researcher_days (
  researcher text NOT NULL,
  day timestamptz NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (researcher, day)
) WITH (fillfactor = 50);

-- Events persisted per minute of processing time: the ingest rate.
CREATE TABLE analytics_throughput (
  bucket timestamptz PRIMARY KEY,
  n bigint NOT NULL
) WITH (fillfactor = 50);

-- Backfill from what was persisted before this migration.
INSERT INTO analytics_counts (grain, bucket, event_type, topic, n)
SELECT g.grain, date_trunc(g.grain, p.occurred_at, 'UTC'), p.event_type, p.topic, count(*)
FROM processed_events p CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS g(grain)
GROUP BY 1, 2, 3, 4;

INSERT INTO analytics_dimensions (dimension, grain, bucket, value, n)
SELECT x.dimension, g.grain, date_trunc(g.grain, p.occurred_at, 'UTC'), x.value, count(*)
FROM processed_events p
CROSS JOIN LATERAL (SELECT coalesce(p.payload->'metadata', p.payload->'properties') AS d) m
CROSS JOIN LATERAL (VALUES ('page', left(m.d->>'page', 256)), ('source', left(m.d->>'source', 256)))
  AS x(dimension, value)
CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
WHERE x.value IS NOT NULL
GROUP BY 1, 2, 3, 4;

INSERT INTO analytics_researcher_molecules (researcher, molecule_id, submissions, first_seen,
  last_seen)
SELECT left(payload->>'researcher', 256), key, count(*), min(occurred_at), max(occurred_at)
FROM processed_events WHERE topic = 'chemical' AND payload->>'researcher' IS NOT NULL
GROUP BY 1, 2;

INSERT INTO analytics_researcher_days (researcher, day, n)
SELECT left(payload->>'researcher', 256), date_trunc('day', occurred_at, 'UTC'), count(*)
FROM processed_events WHERE topic = 'chemical' AND payload->>'researcher' IS NOT NULL
GROUP BY 1, 2;

INSERT INTO analytics_researchers (researcher, submissions, first_seen, last_seen, weighed,
  weight_sum, mismatches)
SELECT left(payload->>'researcher', 256), count(*), min(occurred_at), max(occurred_at),
  count(*) FILTER (WHERE jsonb_typeof(enrichment->'chemistry'->'reported_weight') = 'number'),
  coalesce(sum(CASE WHEN jsonb_typeof(enrichment->'chemistry'->'reported_weight') = 'number'
    THEN (enrichment->'chemistry'->>'reported_weight')::float8 END), 0),
  count(*) FILTER (WHERE enrichment->'chemistry'->'weight_matches' = 'false'::jsonb)
FROM processed_events WHERE topic = 'chemical' AND payload->>'researcher' IS NOT NULL
GROUP BY 1;

UPDATE analytics_researchers r SET formulas = x.formulas
FROM (
  SELECT researcher, jsonb_object_agg(formula, n) AS formulas FROM (
    SELECT left(payload->>'researcher', 256) AS researcher,
      enrichment->'chemistry'->>'hill_formula' AS formula, count(*) AS n
    FROM processed_events WHERE topic = 'chemical' AND payload->>'researcher' IS NOT NULL
    GROUP BY 1, 2
  ) g WHERE formula IS NOT NULL GROUP BY researcher
) x WHERE x.researcher = r.researcher;

INSERT INTO analytics_throughput (bucket, n)
SELECT date_trunc('minute', processed_at, 'UTC'), count(*) FROM processed_events GROUP BY 1;
