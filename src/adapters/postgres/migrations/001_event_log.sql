-- The append-only event log. It is both the audit of everything accepted and the Postgres
-- transport's queue: each row has a partition (hash of its ordering key) and an offset within
-- it, and consumer groups keep one committed offset per partition (consumer_leases), so an
-- accepted event costs one append.
CREATE TABLE log_partitions (
  partition integer PRIMARY KEY,
  -- next offset to hand out; appends lock this row, so offsets of a partition become visible
  -- in the order they were handed out and a consumer never skips a late-committing append.
  next_offset bigint NOT NULL DEFAULT 0
);

CREATE TABLE raw_events (
  partition integer NOT NULL,
  "offset" bigint NOT NULL,
  event_id text NOT NULL,
  -- 0 for the accepted event; each replay of a dead letter appends generation n+1.
  generation integer NOT NULL DEFAULT 0,
  topic text NOT NULL,
  event_type text NOT NULL,
  key text NOT NULL,
  payload jsonb NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}',
  accepted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partition, "offset")
);
CREATE UNIQUE INDEX raw_events_event_id ON raw_events (event_id, generation);
CREATE INDEX raw_events_accepted_at ON raw_events (accepted_at);

CREATE TABLE consumer_leases (
  group_id text NOT NULL,
  partition integer NOT NULL,
  committed_offset bigint NOT NULL DEFAULT -1,
  owner text,
  lease_expires_at timestamptz,
  PRIMARY KEY (group_id, partition)
);

CREATE TABLE processed_events (
  event_id text PRIMARY KEY,
  topic text NOT NULL,
  event_type text NOT NULL,
  key text NOT NULL,
  user_id text,
  payload jsonb NOT NULL,
  enrichment jsonb NOT NULL DEFAULT '{}',
  occurred_at timestamptz,
  accepted_at timestamptz NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  correlation_id text,
  source_partition integer NOT NULL,
  source_offset bigint NOT NULL
);
CREATE INDEX processed_events_type_time ON processed_events (event_type, occurred_at);
CREATE INDEX processed_events_user ON processed_events (user_id, occurred_at);

-- Events that failed processing: 'retrying' while retries remain, 'dead' once they are
-- exhausted or the event can never succeed, 'replayed' after an operator sent it back.
CREATE TABLE failed_events (
  event_id text PRIMARY KEY,
  topic text NOT NULL,
  event_type text NOT NULL,
  key text NOT NULL,
  payload jsonb NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL CHECK (status IN ('retrying', 'dead', 'replayed')),
  reason text NOT NULL,
  error_code text NOT NULL,
  last_error text NOT NULL,
  attempts integer NOT NULL DEFAULT 1,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  last_failed_at timestamptz NOT NULL DEFAULT now(),
  -- generation of the delivery that failed last; a replay appends generation replay_count.
  generation integer NOT NULL DEFAULT 0,
  replay_count integer NOT NULL DEFAULT 0,
  accepted_at timestamptz NOT NULL
);
CREATE INDEX failed_events_status ON failed_events (status, last_failed_at);
