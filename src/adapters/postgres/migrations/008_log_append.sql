-- An append to the log in one round trip (issue 9). It used to be a transaction of four
-- statements (BEGIN, lock the partition counters, append, COMMIT); under load each round trip
-- also waits for the API's busy event loop, and the partition locks are held across all of
-- them, so appends queued behind the round trips rather than behind the database's work.
--
-- log_append(messages, partitions, channel): `messages` is a JSON array of {i, event_id,
-- generation, topic, event_type, key, partition, payload, headers}, `partitions` the distinct
-- partitions among them. Locks those partitions' counters in partition order (two appenders
-- never wait on each other in a cycle; the lock is what makes a partition's offsets visible in
-- the order they were handed out), hands out consecutive offsets, and inserts. An id already
-- in the log is skipped (idempotent publish) but still uses up its offset: consumers read past
-- such gaps (the unique index's own check finds the duplicates, with no probe per event
-- beforehand). Returns the ids it stored and, when there are any, notifies `channel` with the
-- schema's name (delivered at commit) so that listening consumers wake.
CREATE FUNCTION log_append(messages jsonb, partitions integer[], channel text)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM log_partitions
  WHERE partition = ANY(partitions)
  ORDER BY partition
  FOR UPDATE;

  RETURN QUERY
  WITH input AS (
    SELECT * FROM jsonb_to_recordset(messages) AS m(
      i int, event_id text, generation int, topic text, event_type text, key text,
      partition int, payload jsonb, headers jsonb)
  ),
  counts AS (SELECT input.partition, count(*) AS n FROM input GROUP BY input.partition),
  advanced AS (
    UPDATE log_partitions p SET next_offset = p.next_offset + c.n
    FROM counts c WHERE p.partition = c.partition
    RETURNING p.partition, p.next_offset - c.n AS base
  ),
  inserted AS (
    INSERT INTO raw_events (partition, "offset", event_id, generation, topic, event_type, key,
                            payload, headers)
    SELECT m.partition,
           a.base + row_number() OVER (PARTITION BY m.partition ORDER BY m.i) - 1,
           m.event_id, m.generation, m.topic, m.event_type, m.key, m.payload, m.headers
    FROM input m JOIN advanced a ON a.partition = m.partition
    ON CONFLICT (event_id, generation) DO NOTHING
    RETURNING raw_events.event_id
  )
  SELECT inserted.event_id FROM inserted;

  IF FOUND THEN
    PERFORM pg_notify(channel, current_schema());
  END IF;
END
$$;
