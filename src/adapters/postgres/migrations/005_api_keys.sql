-- API keys: only a SHA-256 of the key is stored; the short public prefix finds the row.
CREATE TABLE api_keys (
  id text PRIMARY KEY,
  prefix text NOT NULL UNIQUE,
  key_hash text NOT NULL,
  name text NOT NULL,
  scopes text[] NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
