-- Event contracts (issue 21): a registry of JSON Schemas per event type, in versions that are
-- never changed once written. Each change is committed with its outbox event (schema.created /
-- schema.updated), a line of the change log and a bump of the registry revision, which every
-- Herald process polls (and hears through pg_notify) to load the change.
CREATE TABLE IF NOT EXISTS event_schemas (
  event_type text PRIMARY KEY,
  compatibility text NOT NULL CHECK (compatibility IN ('backward', 'forward', 'full', 'none')),
  on_violation text NOT NULL CHECK (on_violation IN ('reject', 'quarantine')),
  latest_version integer NOT NULL,
  description text,
  deprecated_at timestamptz,
  deprecation_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by_key_id text,
  updated_by text NOT NULL
);

-- json, not jsonb: a schema is shown (and documented in OpenAPI) with its keys in the order
-- its author wrote them.
CREATE TABLE IF NOT EXISTS event_schema_versions (
  event_type text NOT NULL REFERENCES event_schemas (event_type),
  version integer NOT NULL CHECK (version >= 1),
  schema json NOT NULL,
  -- SHA-256 of the schema's canonical JSON: the same schema again is not a new version.
  fingerprint text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by_key_id text,
  created_by text NOT NULL,
  PRIMARY KEY (event_type, version)
);

-- Who changed what, when: every version and every change of settings or deprecation.
CREATE TABLE IF NOT EXISTS event_schema_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_type text NOT NULL,
  change text NOT NULL,
  version integer,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb,
  actor_key_id text,
  actor text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS event_schema_changes_type ON event_schema_changes (event_type, id);

-- One row: writers lock it (so registry changes commit one at a time, in revision order) and
-- bump it; readers compare it with the revision they loaded.
CREATE TABLE IF NOT EXISTS event_schema_revision (
  id integer PRIMARY KEY CHECK (id = 1),
  revision bigint NOT NULL DEFAULT 0
);

INSERT INTO event_schema_revision (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
