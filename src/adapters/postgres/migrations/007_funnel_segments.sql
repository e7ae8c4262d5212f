-- Sealed hours for funnels (issue 5). A funnel over a day reads tens of thousands of events;
-- reading them tuple by tuple from the (event_type, occurred_at) index and handing user ids
-- over as text costs more than the 20 ms a query may take. A background task (the worker's
-- FunnelSealer) packs each closed hour's events of one type into one row: user numbers and
-- times as binary arrays, so a day of a step is 24 rows. A segment is used only while its `n`
-- equals the hour rollup's count for that type and hour (kept in the worker's persist
-- statement): processed_events only grows, so equal counts mean the same events, and a late
-- event into a sealed hour makes the segment stale until it is sealed again (funnels read
-- that hour's raw events meanwhile).

-- A number per user id, so segments carry 4 bytes per user and the funnel keys users by
-- integer. Numbers are handed out by the sealer only, never reused.
CREATE TABLE analytics_user_numbers (
  user_id text PRIMARY KEY,
  num integer GENERATED ALWAYS AS IDENTITY UNIQUE
);

-- One event type's events in one UTC hour: `users` the user numbers (int4, big-endian) of the
-- events with a user, `times` their occurred_at as microseconds after the hour less 2^31
-- (int4, big-endian: an hour is 3.6e9 microseconds, under 2^32), the i-th of each belonging
-- to the same event; `n` every event of that type in that hour, with a user or not (what the
-- rollup counts). 8 bytes an event: a funnel's read is bound by the bytes it moves. Stored
-- uncompressed: the arrays hardly compress and are read whole.
CREATE TABLE analytics_funnel_segments (
  event_type text NOT NULL,
  hour timestamptz NOT NULL,
  n bigint NOT NULL,
  users bytea NOT NULL,
  times bytea NOT NULL,
  sealed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_type, hour)
);

ALTER TABLE analytics_funnel_segments ALTER COLUMN users SET STORAGE EXTERNAL;

ALTER TABLE analytics_funnel_segments ALTER COLUMN times SET STORAGE EXTERNAL;
