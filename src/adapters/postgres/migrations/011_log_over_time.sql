-- The log over time (issue #20): the event log in time segments that retention drops whole,
-- a dedupe window of its own, and replays of a range.
--
-- Segments. raw_events becomes a table partitioned by `segment`, a number every partition's
-- appends share and a worker advances ("rolls") every LOG_SEGMENT. Appends read the segment
-- from the partition counters they lock anyway (log_partitions.segment), so a partition's
-- segment never goes down as its offsets go up: the segment of a committed position is a lower
-- bound of every later row's, and a consumer's fetch `segment >= committed_segment AND
-- partition = p AND offset > c` reads the newest one or two segments, not the whole log.
-- Retention detaches (CONCURRENTLY: reads and appends go on) and drops a segment once it is
-- older than LOG_RETENTION (and than DEDUPE_WINDOW: the log's rows are the window's ids on this
-- transport) and every consumer group has committed past its end.
--
-- The upgrade: the existing raw_events, whatever its size, becomes segment 0 as it is. Adding
-- the segment column is instant (a constant default); attaching it as a partition reads the
-- table once to check the bound (no rewrite, no index build): about a second per few million
-- rows, during which appends and fetches wait on the table. New appends go to segment 1.
ALTER TABLE raw_events RENAME TO raw_events_s0;

ALTER INDEX raw_events_pkey RENAME TO raw_events_s0_pkey;

ALTER INDEX raw_events_event_id RENAME TO raw_events_s0_event_id;

ALTER INDEX raw_events_accepted_at RENAME TO raw_events_s0_accepted_at;

ALTER TABLE raw_events_s0 ADD COLUMN segment integer NOT NULL DEFAULT 0;

ALTER TABLE raw_events_s0 ADD COLUMN dedupe_period bigint;

CREATE TABLE raw_events (
  partition integer NOT NULL,
  "offset" bigint NOT NULL,
  event_id text NOT NULL,
  generation integer NOT NULL DEFAULT 0,
  topic text NOT NULL,
  event_type text NOT NULL,
  key text NOT NULL,
  payload jsonb NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}',
  accepted_at timestamptz NOT NULL DEFAULT now(),
  segment integer NOT NULL,
  -- The dedupe window's period the row was appended in (see log_append); null before 011.
  dedupe_period bigint
) PARTITION BY RANGE (segment);

ALTER TABLE raw_events ATTACH PARTITION raw_events_s0 FOR VALUES FROM (MINVALUE) TO (1);

-- Every segment ever opened. end_offsets[p + 1] is partition p's last offset handed out while
-- the segment was the current one (set when the next one opens): the segment can go once every
-- group's committed offset of every partition is at least that.
CREATE TABLE log_segments (
  segment integer PRIMARY KEY,
  opened_at timestamptz NOT NULL DEFAULT now(),
  closed_at timestamptz,
  end_offsets bigint[],
  dropped_at timestamptz
);

ALTER TABLE log_partitions ADD COLUMN segment integer NOT NULL DEFAULT 0;

-- A lower bound of the segment of every row past committed_offset (see above).
ALTER TABLE consumer_leases ADD COLUMN committed_segment integer NOT NULL DEFAULT 0;

-- Creates segment n's table with its indexes and attaches it. Attaching takes SHARE UPDATE
-- EXCLUSIVE on raw_events only, which appends and fetches do not wait for; the CHECK lets the
-- attach skip its scan.
CREATE FUNCTION log_create_segment(n integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  name text := 'raw_events_s' || n;
BEGIN
  EXECUTE format('CREATE TABLE %I (LIKE raw_events INCLUDING DEFAULTS)', name);
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (segment = %s)', name, name || '_bound', n);
  EXECUTE format('CREATE INDEX %I ON %I (partition, "offset")', name || '_position', name);
  EXECUTE format('CREATE UNIQUE INDEX %I ON %I (event_id, generation, dedupe_period)',
    name || '_event_id', name);
  EXECUTE format('CREATE INDEX %I ON %I (accepted_at)', name || '_accepted_at', name);
  EXECUTE format('ALTER TABLE raw_events ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
    name, n, n + 1);
END
$$;

-- Opens segment n + 1 when the current segment n was opened at least `segment_ms` ago (or
-- `force`): creates it, moves every partition's counter to it (waiting for appends in flight,
-- which hold those rows) and records where n ended. Returns the new segment, or null when it
-- was not time yet. Callers run it under the maintenance lease, so rolls do not race.
CREATE FUNCTION log_roll(segment_ms bigint, force boolean) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  current_segment integer;
  opened timestamptz;
  ends bigint[];
BEGIN
  SELECT segment, opened_at INTO current_segment, opened
  FROM log_segments ORDER BY segment DESC LIMIT 1;
  IF NOT force AND opened > now() - segment_ms * interval '1 millisecond' THEN
    RETURN NULL;
  END IF;
  PERFORM log_create_segment(current_segment + 1);
  WITH moved AS (
    UPDATE log_partitions SET segment = current_segment + 1
    RETURNING partition, next_offset - 1 AS last_offset
  )
  SELECT coalesce(array_agg(last_offset ORDER BY partition), '{}') INTO ends FROM moved;
  UPDATE log_segments SET closed_at = now(), end_offsets = ends WHERE segment = current_segment;
  INSERT INTO log_segments (segment) VALUES (current_segment + 1);
  RETURN current_segment + 1;
END
$$;

INSERT INTO log_segments (segment, opened_at)
SELECT 0, coalesce((SELECT min(accepted_at) FROM raw_events_s0), now());

-- Segment 0 keeps the upgraded rows only: its unique (event_id, generation) index would refuse
-- an id accepted again past the dedupe window.
SELECT log_roll(0, true);

-- The dedupe window (DEDUPE_WINDOW) means the same on every broker: an (event id, generation)
-- accepted within the window is a duplicate. Time is cut into periods of one window. On this
-- transport the log is the window: each row carries the period it was appended in, a segment's
-- unique index on (event_id, generation, dedupe_period) refuses a second acceptance in the same
-- period, and an append probes the live segments for an acceptance of the previous period still
-- within the window (retention keeps those segments). Duplicates are counted, only when there
-- are some, in event_duplicates (GET /api/v1/events/{id} shows them).
CREATE TABLE event_duplicates (
  event_id text NOT NULL,
  generation integer NOT NULL,
  times integer NOT NULL,
  last_at timestamptz NOT NULL,
  PRIMARY KEY (event_id, generation)
);

CREATE INDEX event_duplicates_last ON event_duplicates (last_at);

-- On Kafka and Redis, whose logs cannot tell, the window is a table: one row per accepted id, in
-- the slot of the period it was written in (period mod 3). Lookups read the current and the
-- previous slot (an id within the window was written in one of them); the third, holding only
-- rows older than a window, is emptied whole (detached, truncated, attached again) instead of
-- deleted row by row. `confirmed` is false while the publish of a claim is not known to have
-- succeeded: such a row is never taken for a duplicate (the event may not be in the broker).
CREATE TABLE event_dedupe (
  slot smallint NOT NULL,
  event_id text NOT NULL,
  generation integer NOT NULL,
  accepted_at timestamptz NOT NULL,
  partition integer,
  "offset" bigint,
  confirmed boolean NOT NULL DEFAULT true,
  duplicates integer NOT NULL DEFAULT 0,
  last_duplicate_at timestamptz,
  PRIMARY KEY (slot, event_id, generation)
) PARTITION BY LIST (slot);

CREATE TABLE event_dedupe_0 PARTITION OF event_dedupe FOR VALUES IN (0);

CREATE TABLE event_dedupe_1 PARTITION OF event_dedupe FOR VALUES IN (1);

CREATE TABLE event_dedupe_2 PARTITION OF event_dedupe FOR VALUES IN (2);

-- The slots of now for a window: the current one, and the previous one.
CREATE FUNCTION dedupe_slots(window_ms bigint, OUT current_slot smallint, OUT previous_slot smallint)
LANGUAGE sql STABLE AS $$
  SELECT (p % 3)::smallint, ((p + 2) % 3)::smallint
  FROM (SELECT floor(extract(epoch FROM now()) * 1000 / window_ms)::bigint AS p) x
$$;

-- The append (issue 9, migration 008) with the dedupe window: the first occurrence of an id
-- not accepted within `window_ms` is stored; the others are counted in event_duplicates and
-- skipped, still using up their offset (consumers read past such gaps). One round trip. The
-- probe for an earlier acceptance is one index lookup per event in each live segment that can
-- hold rows of the window (one or two).
DROP FUNCTION log_append(jsonb, integer[], text);

CREATE FUNCTION log_append(messages jsonb, partitions integer[], channel text, window_ms bigint)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  period bigint := floor(extract(epoch FROM now()) * 1000 / window_ms)::bigint;
  cutoff timestamptz := now() - window_ms * interval '1 millisecond';
  first_segment integer;
  stored_ids text[];
  stored_generations integer[];
BEGIN
  PERFORM 1 FROM log_partitions
  WHERE partition = ANY(partitions)
  ORDER BY partition
  FOR UPDATE;

  -- The oldest segment that can hold an acceptance within the window.
  SELECT coalesce(min(segment), 0) INTO first_segment FROM log_segments
  WHERE dropped_at IS NULL AND (closed_at IS NULL OR closed_at >= cutoff);

  WITH input AS (
    SELECT * FROM jsonb_to_recordset(messages) AS m(
      i int, event_id text, generation int, topic text, event_type text, key text,
      partition int, payload jsonb, headers jsonb)
  ),
  counts AS (SELECT input.partition, count(*) AS n FROM input GROUP BY input.partition),
  advanced AS (
    UPDATE log_partitions p SET next_offset = p.next_offset + c.n
    FROM counts c WHERE p.partition = c.partition
    RETURNING p.partition, p.next_offset - c.n AS base, p.segment
  ),
  inserted AS (
    INSERT INTO raw_events (partition, "offset", event_id, generation, topic, event_type, key,
                            payload, headers, segment, dedupe_period)
    SELECT n.partition, n."offset", n.event_id, n.generation, n.topic, n.event_type, n.key,
           n.payload, n.headers, n.segment, period
    FROM (
      -- Numbered first: a duplicate uses up its offset, as every message of the call does.
      SELECT m.*, a.segment,
             a.base + row_number() OVER (PARTITION BY m.partition ORDER BY m.i) - 1 AS "offset"
      FROM input m JOIN advanced a ON a.partition = m.partition
    ) n
    LEFT JOIN LATERAL (
      SELECT 1 AS seen FROM raw_events r
      WHERE r.segment >= first_segment AND r.event_id = n.event_id
        AND r.generation = n.generation AND r.dedupe_period >= period - 1
        AND r.accepted_at > cutoff
      LIMIT 1
    ) earlier ON true
    WHERE earlier.seen IS NULL
    -- The same id twice in this period (a repeat in the batch, a concurrent append of it).
    ON CONFLICT DO NOTHING
    RETURNING raw_events.event_id, raw_events.generation
  )
  SELECT coalesce(array_agg(event_id), '{}'), coalesce(array_agg(generation), '{}')
  INTO stored_ids, stored_generations
  FROM inserted;

  RETURN QUERY SELECT unnest(stored_ids);

  -- Duplicates (rare): counted on the id, for GET /api/v1/events/{id}.
  IF cardinality(stored_ids) < jsonb_array_length(messages) THEN
    INSERT INTO event_duplicates AS d (event_id, generation, times, last_at)
    SELECT m.event_id, m.generation, count(*) - max(CASE WHEN s.event_id IS NULL THEN 0 ELSE 1 END),
           now()
    FROM jsonb_to_recordset(messages) AS m(event_id text, generation int)
    LEFT JOIN unnest(stored_ids, stored_generations) AS s(event_id, generation)
      ON s.event_id = m.event_id AND s.generation = m.generation
    GROUP BY m.event_id, m.generation
    HAVING count(*) - max(CASE WHEN s.event_id IS NULL THEN 0 ELSE 1 END) > 0
    ORDER BY m.event_id, m.generation
    ON CONFLICT (event_id, generation) DO UPDATE SET
      times = CASE WHEN d.last_at > cutoff THEN d.times ELSE 0 END + EXCLUDED.times,
      last_at = EXCLUDED.last_at;
  END IF;

  IF cardinality(stored_ids) > 0 THEN
    PERFORM pg_notify(channel, current_schema());
  END IF;
END
$$;

-- The append as processes of the previous version call it, during a rolling upgrade: the
-- default window (DEDUPE_WINDOW's default, 24 hours).
CREATE FUNCTION log_append(messages jsonb, partitions integer[], channel text)
RETURNS SETOF text
LANGUAGE sql AS $$
  SELECT log_append(messages, partitions, channel, 86400000)
$$;

-- The dedupe window where the broker is not this database (Kafka, Redis): one call per group
-- commit, before publishing. `confirms` ([{slot, event_id, generation, partition, offset}])
-- are claims of earlier calls whose publish succeeded, marked first; `claims` ([{i, event_id,
-- generation, partition}]) are the messages about to be published. Returns each claim's slot
-- and whether it is a duplicate: of a confirmed acceptance within the window. An id whose
-- earlier claim is unconfirmed (its publish failed, or is still in flight) is claimed again
-- and published again, never answered as a duplicate of an event that may not exist.
CREATE FUNCTION dedupe_claim(confirms jsonb, claims jsonb, window_ms bigint)
RETURNS TABLE (claim_index int, claim_slot smallint, is_duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
  current_slot smallint;
  previous_slot smallint;
  cutoff timestamptz := now() - window_ms * interval '1 millisecond';
BEGIN
  SELECT s.current_slot, s.previous_slot INTO current_slot, previous_slot
  FROM dedupe_slots(window_ms) s;
  UPDATE event_dedupe d SET confirmed = true, partition = c.partition, "offset" = c."offset"
  FROM jsonb_to_recordset(confirms) AS c(slot smallint, event_id text, generation int,
                                          partition int, "offset" bigint)
  WHERE d.slot = c.slot AND d.event_id = c.event_id AND d.generation = c.generation;

  RETURN QUERY
  WITH input AS (
    SELECT * FROM jsonb_to_recordset(claims) AS m(i int, event_id text, generation int,
                                                   partition int)
  ),
  firsts AS (
    SELECT DISTINCT ON (m.event_id, m.generation) m.* FROM input m
    ORDER BY m.event_id, m.generation, m.i
  ),
  earlier AS (
    SELECT o.event_id, o.generation FROM event_dedupe o JOIN firsts f
      ON o.slot = previous_slot AND o.event_id = f.event_id
     AND o.generation = f.generation
    WHERE o.accepted_at > cutoff AND o.confirmed
  ),
  counted AS (
    UPDATE event_dedupe o SET duplicates = o.duplicates + 1, last_duplicate_at = now()
    FROM earlier e
    WHERE o.slot = previous_slot AND o.event_id = e.event_id
      AND o.generation = e.generation
  ),
  claimed AS (
    INSERT INTO event_dedupe AS d (slot, event_id, generation, accepted_at, partition, confirmed)
    SELECT current_slot, f.event_id, f.generation, now(), f.partition, false
    FROM firsts f
    WHERE NOT EXISTS (
      SELECT 1 FROM earlier e WHERE e.event_id = f.event_id AND e.generation = f.generation)
    ORDER BY f.event_id, f.generation
    ON CONFLICT (slot, event_id, generation) DO UPDATE SET
      duplicates = CASE WHEN d.accepted_at > cutoff AND d.confirmed THEN d.duplicates + 1 ELSE 0 END,
      last_duplicate_at = CASE WHEN d.accepted_at > cutoff AND d.confirmed THEN now() END,
      accepted_at = CASE WHEN d.accepted_at > cutoff AND d.confirmed
                         THEN d.accepted_at ELSE EXCLUDED.accepted_at END,
      partition = CASE WHEN d.accepted_at > cutoff AND d.confirmed
                       THEN d.partition ELSE EXCLUDED.partition END,
      "offset" = CASE WHEN d.accepted_at > cutoff AND d.confirmed THEN d."offset" END,
      confirmed = d.accepted_at > cutoff AND d.confirmed
    RETURNING d.event_id, d.generation, d.duplicates = 0 AS fresh
  )
  SELECT m.i, current_slot,
         NOT EXISTS (SELECT 1 FROM firsts f JOIN claimed c
                       ON c.event_id = f.event_id AND c.generation = f.generation
                     WHERE c.fresh AND f.i = m.i)
  FROM input m
  ORDER BY m.i;
END
$$;

-- Which process maintains the log (rolls, retention, the dedupe slots) right now: one at a
-- time, the holder of an unexpired lease (a worker that dies is taken over when it ends).
CREATE TABLE log_maintenance (
  id integer PRIMARY KEY CHECK (id = 1),
  holder text,
  lease_until timestamptz,
  -- The period whose third slot was last emptied, so each is emptied once.
  cleared_period bigint
);

INSERT INTO log_maintenance (id) VALUES (1);

-- Replays of a range of the log (issue #20): what was asked, by whom, and how far it got. The
-- cursor is the broker's position after the last batch whose effects are committed; effects
-- kept in this database (re-derived enrichment, webhook deliveries) commit with it.
CREATE TABLE replays (
  id text PRIMARY KEY,
  target text NOT NULL CHECK (target IN ('agent', 'webhook', 'pipeline')),
  endpoint_id text,
  range_from timestamptz NOT NULL,
  range_to timestamptz NOT NULL,
  topics text[] NOT NULL,
  event_types text[],
  keys text[],
  rate_per_second integer NOT NULL DEFAULT 0,
  dry_run boolean NOT NULL DEFAULT false,
  status text NOT NULL
    CHECK (status IN ('pending', 'running', 'paused', 'cancelled', 'completed', 'failed')),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  cursor jsonb,
  events_read bigint NOT NULL DEFAULT 0,
  sent bigint NOT NULL DEFAULT 0,
  skipped bigint NOT NULL DEFAULT 0,
  -- {type: {sent, skipped}} and {outcome: n}, e.g. {"unchanged": 3, "already_delivered": 2}
  by_type jsonb NOT NULL DEFAULT '{}',
  outcomes jsonb NOT NULL DEFAULT '{}',
  -- A few of the changes a pipeline replay makes (or would make): before and after.
  samples jsonb NOT NULL DEFAULT '[]',
  last_error text,
  lease_owner text,
  lease_until timestamptz
);

CREATE INDEX replays_recent ON replays (created_at DESC);

CREATE INDEX replays_runnable ON replays (created_at) WHERE status IN ('pending', 'running');

-- Who did what to a replay, and when (created, paused, resumed, cancelled).
CREATE TABLE replay_actions (
  replay_id text NOT NULL REFERENCES replays (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT now(),
  action text NOT NULL,
  actor text NOT NULL
);

CREATE INDEX replay_actions_replay ON replay_actions (replay_id, at);

-- An agent run made by a replay names it: a replay resumed after a crash skips the events it
-- already ran the agent on.
ALTER TABLE agent_runs ADD COLUMN replay_id text;

CREATE INDEX agent_runs_replay ON agent_runs (replay_id, event_id) WHERE replay_id IS NOT NULL;
