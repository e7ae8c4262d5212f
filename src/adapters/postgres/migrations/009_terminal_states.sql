-- Every accepted event ends processed or dead-lettered (issue 17): a dead letter must always
-- store, whatever the event held.
--
-- The payload may be refused by jsonb (NUL, half a surrogate pair, nesting too deep) or the
-- message may not be JSON at all: it is then kept as JSON text that parses back to exactly
-- what was received (payload_text), the payload column left NULL. Where even that cannot be
-- stored, a minimal record keeps neither.
ALTER TABLE failed_events ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE failed_events ADD COLUMN payload_text text;

-- Where the failed delivery sat in the broker, to find it there (NULL for older rows).
ALTER TABLE failed_events ADD COLUMN source_partition integer;
ALTER TABLE failed_events ADD COLUMN source_offset bigint;

-- Who dead-lettered it by hand (reason 'operator'); NULL when the worker decided.
ALTER TABLE failed_events ADD COLUMN operator text;

-- An operator's request to dead-letter the event at the head of a stalled partition. The
-- worker that holds the event applies it at its next attempt (applied_at), so the event is
-- dead-lettered by the consumer owning the partition, the same way on every broker. One
-- request per delivery (event id and generation): a later replay is not affected.
CREATE TABLE operator_requests (
  event_id text PRIMARY KEY,
  generation integer NOT NULL,
  partition integer NOT NULL,
  topic text,
  requested_by text NOT NULL,
  note text,
  requested_at timestamptz NOT NULL DEFAULT now(),
  applied_at timestamptz
);
