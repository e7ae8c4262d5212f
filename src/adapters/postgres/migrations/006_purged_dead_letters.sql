-- A purged dead letter keeps its row, marked 'purged': the event stays explainable (it was
-- accepted, failed, and an operator chose to drop it) instead of looking accepted forever.
ALTER TABLE failed_events DROP CONSTRAINT failed_events_status_check;
ALTER TABLE failed_events ADD CONSTRAINT failed_events_status_check
  CHECK (status IN ('retrying', 'dead', 'replayed', 'purged'));
