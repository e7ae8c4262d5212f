/** The schema registry's SQL (migration 010). */

const typeColumns = `event_type, compatibility, on_violation, latest_version, description,
  deprecated_at, deprecation_message, created_at, updated_at, updated_by_key_id, updated_by`;

const versionColumns =
  'event_type, version, schema, fingerprint, created_at, created_by_key_id, created_by';

export const revision = 'SELECT revision FROM event_schema_revision WHERE id = 1';

/** Taken first by every change: registry changes commit one at a time. */
export const lockRevision = 'SELECT revision FROM event_schema_revision WHERE id = 1 FOR UPDATE';

export const bumpRevision =
  'UPDATE event_schema_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision';

export const types = `SELECT ${typeColumns} FROM event_schemas ORDER BY event_type`;

export const type = `SELECT ${typeColumns} FROM event_schemas WHERE event_type = $1`;

/** $1/$2: the types and the newest version of each already known. */
export const versionsAfter = `
  SELECT ${versionColumns.replace(/(\w+)/g, 'v.$1')} FROM event_schema_versions v
  LEFT JOIN unnest($1::text[], $2::int[]) AS k(event_type, known) ON k.event_type = v.event_type
  WHERE v.version > coalesce(k.known, 0)
  ORDER BY v.event_type, v.version`;

export const version = `SELECT ${versionColumns} FROM event_schema_versions WHERE event_type = $1 AND version = $2`;

export const versions = `SELECT ${versionColumns} FROM event_schema_versions WHERE event_type = $1 ORDER BY version`;

export const changes = `
  SELECT id, event_type, change, version, detail, actor_key_id, actor, at
  FROM event_schema_changes WHERE event_type = $1 ORDER BY id DESC LIMIT $2`;

/** $1 type, $2..$6 settings ($5: deprecated), $7/$8 the actor, $9 the latest version after it. */
export const upsertType = `
  INSERT INTO event_schemas (event_type, compatibility, on_violation, description,
    deprecated_at, deprecation_message, updated_by_key_id, updated_by, latest_version)
  VALUES ($1, $2, $3, $4, CASE WHEN $5::boolean THEN now() END, $6, $7, $8, $9)
  ON CONFLICT (event_type) DO UPDATE SET
    compatibility = excluded.compatibility,
    on_violation = excluded.on_violation,
    description = excluded.description,
    deprecated_at = CASE WHEN $5::boolean THEN coalesce(event_schemas.deprecated_at, now()) END,
    deprecation_message = excluded.deprecation_message,
    updated_by_key_id = excluded.updated_by_key_id,
    updated_by = excluded.updated_by,
    latest_version = excluded.latest_version,
    updated_at = now()
  RETURNING ${typeColumns}`;

export const insertVersion = `
  INSERT INTO event_schema_versions (event_type, version, schema, fingerprint, created_by_key_id, created_by)
  VALUES ($1, $2, $3::json, $4, $5, $6)
  RETURNING ${versionColumns}`;

export const insertChange = `
  INSERT INTO event_schema_changes (event_type, change, version, detail, actor_key_id, actor)
  VALUES ($1, $2, $3, $4::jsonb, $5, $6)`;

export const notify = 'SELECT pg_notify($1, current_schema())';
