-- Users (issue 7): accounts, sessions, the transactional outbox and notification deliveries.

-- Emails are unique case-insensitively (lower(email) index), as citext would make them.
CREATE TABLE IF NOT EXISTS users (
  id text PRIMARY KEY,
  username text NOT NULL,
  email text NOT NULL,
  full_name text,
  age integer,
  phone text,
  role text NOT NULL CHECK (role IN ('admin', 'user', 'guest')),
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX IF NOT EXISTS users_email_unique ON users (lower(email));

CREATE UNIQUE INDEX IF NOT EXISTS users_username_unique ON users (lower(username));

-- Only a SHA-256 of a session token is kept: a leaked table opens no session.
CREATE TABLE IF NOT EXISTS sessions (
  id text PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  last_seen_at timestamptz,
  ip text,
  user_agent text,
  revoked_at timestamptz
);

CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, created_at DESC);

-- Failed logins, per key ('account:<id or name>' or 'address:<ip>'): the sliding window of the
-- login rate limit, shared by every API process. An attempt is written here before its password
-- is checked (and removed if it succeeds), so parallel guesses count against each other.
CREATE TABLE IF NOT EXISTS login_failures (
  scope_key text NOT NULL,
  failed_at timestamptz NOT NULL DEFAULT now(),
  attempt_id text
);

CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (scope_key, failed_at);

CREATE INDEX IF NOT EXISTS login_failures_time ON login_failures (failed_at);

-- The transactional outbox: written in the same transaction as the change it announces,
-- published by the relay (read in seq order → publish → mark), at least once; id is the
-- event id.
CREATE TABLE IF NOT EXISTS outbox (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  topic text NOT NULL,
  key text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);

CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- One relay publishes at a time (the lease holder), so a user's events leave in commit order
-- whatever the number of API processes; a holder that dies is taken over when its lease ends.
CREATE TABLE IF NOT EXISTS outbox_relay (
  id integer PRIMARY KEY CHECK (id = 1),
  holder text,
  lease_until timestamptz
);

INSERT INTO outbox_relay (id) VALUES (1) ON CONFLICT (id) DO NOTHING;

-- Channels a user turned off (email, sms, push); a missing row means enabled.
CREATE TABLE IF NOT EXISTS notification_preferences (
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  channel text NOT NULL,
  enabled boolean NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, channel)
);

-- Web Push subscriptions (the browser's PushSubscription JSON).
CREATE TABLE IF NOT EXISTS push_subscriptions (
  id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  endpoint text NOT NULL UNIQUE,
  p256dh text NOT NULL,
  auth text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Webhook endpoints: `whsec_` secrets, the previous one kept (and signed with) until
-- previous_secret_expires_at so receivers can rotate without dropping a message.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
  id text PRIMARY KEY,
  url text NOT NULL,
  description text,
  event_types text[] NOT NULL,
  secret text NOT NULL,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  consecutive_failures integer NOT NULL DEFAULT 0,
  failing_since timestamptz,
  disabled_at timestamptz,
  disabled_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (event, channel, recipient): the idempotency key of a notification. The
-- dispatcher claims due rows (status pending/retrying, or sending with an expired lease),
-- sends, and records the outcome; `attempts` counts sends started. Only the holder of
-- `lease_token` may record the outcome: a dispatcher whose lease expired cannot overwrite the
-- result of the one that took over.
CREATE TABLE IF NOT EXISTS notification_deliveries (
  id text PRIMARY KEY,
  event_id text NOT NULL,
  event_type text NOT NULL,
  channel text NOT NULL,
  recipient text NOT NULL,
  user_id text,
  endpoint_id text,
  payload jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'sending', 'retrying', 'sent', 'failed', 'skipped')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz,
  lease_token text,
  last_error text,
  last_status_code integer,
  provider text,
  provider_message_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  UNIQUE (event_id, channel, recipient)
);

CREATE INDEX IF NOT EXISTS notification_deliveries_due ON notification_deliveries (next_attempt_at)
  WHERE status IN ('pending', 'retrying', 'sending');

CREATE INDEX IF NOT EXISTS notification_deliveries_recent ON notification_deliveries (created_at DESC, id DESC);

-- Every send started, with how it ended; `interrupted` marks one whose process died (its lease
-- expired and another dispatcher took the delivery over).
CREATE TABLE IF NOT EXISTS notification_attempts (
  delivery_id text NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  outcome text NOT NULL DEFAULT 'started'
    CHECK (outcome IN ('started', 'sent', 'retryable', 'permanent', 'interrupted')),
  status_code integer,
  error text,
  duration_ms integer,
  PRIMARY KEY (delivery_id, attempt)
);
