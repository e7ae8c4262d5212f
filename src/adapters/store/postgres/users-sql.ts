/** The user service's SQL: users, sessions, login failures, preferences and the outbox. */

const userColumns =
  'id, username, email, full_name, age, phone, role, created_at, updated_at, password_hash';

export const insertUser = `
  INSERT INTO users (id, username, email, full_name, age, phone, role, password_hash)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  RETURNING ${userColumns}`;

/** $2..$8: new values or null to keep (full_name, age, phone cleared with $9..$11 flags). */
export const updateUser = `
  UPDATE users SET
    username = coalesce($2, username),
    email = coalesce($3, email),
    full_name = CASE WHEN $9::boolean THEN $4 ELSE full_name END,
    age = CASE WHEN $10::boolean THEN $5::integer ELSE age END,
    phone = CASE WHEN $11::boolean THEN $6 ELSE phone END,
    role = coalesce($7, role),
    password_hash = coalesce($8, password_hash),
    updated_at = now()
  WHERE id = $1
  RETURNING ${userColumns}`;

export const deleteUser = `DELETE FROM users WHERE id = $1 RETURNING ${userColumns}`;

export const getUser = `SELECT ${userColumns} FROM users WHERE id = $1`;

export const listUsers = `SELECT ${userColumns} FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2`;

export const findByLogin = `
  SELECT ${userColumns} FROM users
  WHERE lower(username) = lower($1) OR lower(email) = lower($1)
  ORDER BY (lower(username) = lower($1)) DESC
  LIMIT 1`;

export const countAdmins = `SELECT count(*)::int AS n FROM users WHERE role = 'admin'`;

/**
 * Locks the admin rows for the rest of the transaction: two admins demoting (or deleting) each
 * other at once are serialized, so the second sees the first's change and the last admin stays.
 */
export const lockAdmins = `SELECT id FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE`;

export const insertOutbox = `
  INSERT INTO outbox (id, topic, key, type, payload, headers)
  VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)`;

const sessionColumns =
  's.id, s.user_id, s.created_at, s.expires_at, s.last_seen_at, s.ip, s.user_agent, s.revoked_at';

export const insertSession = `
  INSERT INTO sessions (id, token_hash, user_id, expires_at, ip, user_agent)
  VALUES ($1, $2, $3, $4, $5, $6)`;

/** A user's sessions that expired are of no use to anyone; dropped when it logs in again. */
export const deleteExpiredSessions = `DELETE FROM sessions WHERE user_id = $1 AND expires_at <= now()`;

/**
 * Finds a live session with its user's role, in one statement, and marks it seen — at most once
 * a minute, so that a busy session does not cost a row write per request. Returns the session
 * as it was before the mark.
 */
export const touchSession = `
  WITH found AS (
    SELECT ${sessionColumns}, u.role FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
  ), touched AS (
    UPDATE sessions SET last_seen_at = now()
    WHERE id IN (
      SELECT id FROM found WHERE last_seen_at IS NULL OR last_seen_at < now() - interval '1 minute'
    )
  )
  SELECT * FROM found`;

export const listSessions = `
  SELECT ${sessionColumns} FROM sessions s
  WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
  ORDER BY s.created_at DESC`;

export const revokeSession = `
  UPDATE sessions SET revoked_at = now()
  WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
  RETURNING id`;

/** $2: the session to keep (the caller's own), or null to revoke all. */
export const revokeSessions = `
  UPDATE sessions SET revoked_at = now()
  WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
    AND ($2::text IS NULL OR id <> $2)
  RETURNING id`;

/**
 * $1 keys, $2 window ms, $3 an attempt to leave out or null: failures per key in the window,
 * and ms since the latest, by the database's clock so that API processes' clocks need not agree.
 */
export const countLoginFailures = `
  SELECT scope_key, count(*)::int AS n,
    (extract(epoch FROM now() - max(failed_at)) * 1000)::float8 AS ms_since_latest
  FROM login_failures
  WHERE scope_key = ANY($1::text[])
    AND failed_at > now() - ($2::double precision * interval '1 millisecond')
    AND ($3::text IS NULL OR attempt_id IS DISTINCT FROM $3::text)
  GROUP BY scope_key`;

/**
 * $1 the account+address key, $2 the account key, $3 the attempt id, $4 the address's share
 * cap, $5 window ms: the attempt counts for the pair, and for the account while the pair's
 * failures in the window are fewer than $4.
 */
export const insertLoginFailure = `
  INSERT INTO login_failures (scope_key, attempt_id)
  SELECT $1::text, $3::text
  UNION ALL
  SELECT $2::text, $3::text
  WHERE (
    SELECT count(*) FROM login_failures
    WHERE scope_key = $1::text
      AND failed_at > now() - ($5::double precision * interval '1 millisecond')
  ) < $4::int`;

export const forgetLoginAttempt = `DELETE FROM login_failures WHERE attempt_id = $1`;

/** Keeps the table to the window: failures older than it (of any key) no longer count. */
export const pruneLoginFailures = `
  DELETE FROM login_failures
  WHERE failed_at <= now() - ($1::double precision * interval '1 millisecond')`;

/** $1 an account+address key: its failures and the account's rows of the same attempts. */
export const clearLoginFailures = `
  DELETE FROM login_failures
  WHERE scope_key = $1
    OR attempt_id IN (
      SELECT attempt_id FROM login_failures WHERE scope_key = $1 AND attempt_id IS NOT NULL
    )`;

/** $1 user id, $2 address, $3 ms: a session of the user opened from the address that recently. */
export const loggedInFrom = `
  SELECT EXISTS (
    SELECT 1 FROM sessions
    WHERE user_id = $1 AND ip = $2
      AND created_at > now() - ($3::double precision * interval '1 millisecond')
  ) AS found`;

export const getPreferences = `
  SELECT channel, enabled FROM notification_preferences WHERE user_id = $1`;

export const upsertPreference = `
  INSERT INTO notification_preferences (user_id, channel, enabled) VALUES ($1, $2, $3)
  ON CONFLICT (user_id, channel) DO UPDATE SET enabled = excluded.enabled, updated_at = now()`;

/** Takes the relay lease when it is free, expired, or already ours. */
export const acquireRelayLease = `
  UPDATE outbox_relay
  SET holder = $1, lease_until = now() + ($2::double precision * interval '1 millisecond')
  WHERE id = 1 AND (holder = $1 OR lease_until IS NULL OR lease_until < now())
  RETURNING holder`;

export const releaseRelayLease = `
  UPDATE outbox_relay SET lease_until = NULL WHERE id = 1 AND holder = $1`;

export const unpublishedOutbox = `
  SELECT seq, id, topic, key, type, payload, headers FROM outbox
  WHERE published_at IS NULL
  ORDER BY seq
  LIMIT $1`;

export const markPublished = `
  UPDATE outbox SET published_at = now() WHERE id = ANY($1::text[]) AND published_at IS NULL`;

export const prunePublished = `
  DELETE FROM outbox
  WHERE published_at IS NOT NULL
    AND published_at < now() - ($1::double precision * interval '1 millisecond')
  RETURNING seq`;

export const outboxBacklog = `SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`;

export const outboxPending = `
  SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL) AS pending`;
