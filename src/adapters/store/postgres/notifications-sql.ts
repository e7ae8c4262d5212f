/** Every statement of the Postgres notification store, in one place. */

export const deliveryColumns = `id, event_id, event_type, channel, recipient, user_id,
  endpoint_id, payload, status, attempts, next_attempt_at, last_error, last_status_code, provider,
  provider_message_id, created_at, updated_at, sent_at`;

/** One multi-row insert per batch; an already recorded (event, channel, recipient) is kept. */
export const insertDeliveries = `
  INSERT INTO notification_deliveries (id, event_id, event_type, channel, recipient, user_id,
    endpoint_id, payload, status, last_error)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::jsonb[], $9::text[], $10::text[])
  ON CONFLICT (event_id, channel, recipient) DO NOTHING
  RETURNING id`;

/**
 * Claims due deliveries: pending or retrying whose time has come, or sending whose lease
 * expired (its process died mid-send). Each claim counts an attempt, takes a fresh lease
 * token, and opens the attempt's row; the attempt a dead process left open is closed as
 * interrupted.
 */
export const claimDue = `
  WITH due AS (
    SELECT id, status AS previous_status, attempts AS previous_attempts
    FROM notification_deliveries
    WHERE (status IN ('pending', 'retrying') AND next_attempt_at <= now())
       OR (status = 'sending' AND lease_until <= now())
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE notification_deliveries d
    SET status = 'sending', attempts = d.attempts + 1,
        lease_until = now() + $2::integer * interval '1 millisecond',
        lease_token = md5(random()::text || clock_timestamp()::text || d.id),
        updated_at = now()
    FROM due
    WHERE d.id = due.id
    RETURNING d.*, due.previous_status, due.previous_attempts
  ), interrupted AS (
    UPDATE notification_attempts a
    SET outcome = 'interrupted', finished_at = now(),
        error = 'the sending process stopped before recording an outcome (lease expired)'
    FROM claimed
    WHERE claimed.previous_status = 'sending' AND a.delivery_id = claimed.id
      AND a.attempt = claimed.previous_attempts AND a.outcome = 'started'
  ), opened AS (
    INSERT INTO notification_attempts (delivery_id, attempt)
    SELECT id, attempts FROM claimed
  )
  SELECT ${deliveryColumns}, lease_token, previous_status FROM claimed`;

export const recordSent = `
  WITH done AS (
    UPDATE notification_deliveries
    SET status = 'sent', sent_at = now(), updated_at = now(), lease_until = NULL,
        lease_token = NULL, provider = $3, provider_message_id = $4, last_status_code = $5,
        last_error = NULL
    WHERE id = $1 AND lease_token = $2 AND status = 'sending'
    RETURNING id, attempts
  )
  UPDATE notification_attempts a
  SET outcome = 'sent', finished_at = now(), status_code = $5, duration_ms = $6
  FROM done
  WHERE a.delivery_id = done.id AND a.attempt = done.attempts
  RETURNING a.delivery_id`;

export const recordFailure = `
  WITH done AS (
    UPDATE notification_deliveries
    SET status = $3, next_attempt_at = coalesce($4::timestamptz, next_attempt_at),
        updated_at = now(), lease_until = NULL, lease_token = NULL, last_error = $5,
        last_status_code = $6
    WHERE id = $1 AND lease_token = $2 AND status = 'sending'
    RETURNING id, attempts
  )
  UPDATE notification_attempts a
  SET outcome = $7, finished_at = now(), status_code = $6, error = $5, duration_ms = $8
  FROM done
  WHERE a.delivery_id = done.id AND a.attempt = done.attempts
  RETURNING a.delivery_id`;

export const listDeliveries = `
  SELECT ${deliveryColumns} FROM notification_deliveries
  WHERE ($1::text IS NULL OR status = $1)
    AND ($2::text IS NULL OR channel = $2)
    AND ($3::text IS NULL OR event_id = $3)
    AND ($4::text IS NULL OR event_type = $4)
    AND ($5::text IS NULL OR recipient = $5)
    AND ($6::text IS NULL OR user_id = $6)
    AND ($7::text IS NULL OR (created_at, id) < (
      SELECT created_at, id FROM notification_deliveries WHERE id = $7))
  ORDER BY created_at DESC, id DESC
  LIMIT $8`;

export const getDelivery = `SELECT ${deliveryColumns} FROM notification_deliveries WHERE id = $1`;

export const attemptsOf = `
  SELECT delivery_id, attempt, started_at, finished_at, outcome, status_code, error, duration_ms
  FROM notification_attempts
  WHERE delivery_id = ANY($1::text[])
  ORDER BY delivery_id, attempt`;

export const disabledChannels = `
  SELECT user_id, channel FROM notification_preferences
  WHERE user_id = ANY($1::text[]) AND NOT enabled`;

export const pushSubscriptions = `
  SELECT id, user_id, endpoint, p256dh, auth FROM push_subscriptions
  WHERE user_id = ANY($1::text[])
  ORDER BY created_at, id`;

export const addPushSubscription = `
  INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (endpoint) DO UPDATE SET
    user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth`;

export const removePushSubscription = `DELETE FROM push_subscriptions WHERE endpoint = $1`;

const endpointColumns = `id, url, description, event_types, secret, previous_secret,
  previous_secret_expires_at, consecutive_failures, failing_since, disabled_at, disabled_reason,
  created_at, updated_at`;

export const insertEndpoint = `
  INSERT INTO webhook_endpoints (id, url, description, event_types, secret)
  VALUES ($1, $2, $3, $4::text[], $5)
  RETURNING ${endpointColumns}`;

export const listEndpoints = `
  SELECT ${endpointColumns} FROM webhook_endpoints ORDER BY created_at, id`;

export const getEndpoint = `SELECT ${endpointColumns} FROM webhook_endpoints WHERE id = $1`;

export const activeEndpoints = `
  SELECT ${endpointColumns} FROM webhook_endpoints WHERE disabled_at IS NULL ORDER BY id`;

/** $3 says whether to set the description to $4; $6: true enables (forgetting failures),
 * false disables with reason $7, NULL leaves as is. */
export const updateEndpoint = `
  UPDATE webhook_endpoints
  SET url = coalesce($2, url),
      description = CASE WHEN $3::boolean THEN $4 ELSE description END,
      event_types = coalesce($5::text[], event_types),
      disabled_at = CASE WHEN $6::boolean IS NULL THEN disabled_at
                         WHEN $6::boolean THEN NULL
                         ELSE coalesce(disabled_at, now()) END,
      disabled_reason = CASE WHEN $6::boolean IS NULL THEN disabled_reason
                             WHEN $6::boolean THEN NULL
                             ELSE coalesce($7, disabled_reason) END,
      consecutive_failures = CASE WHEN $6::boolean THEN 0 ELSE consecutive_failures END,
      failing_since = CASE WHEN $6::boolean THEN NULL ELSE failing_since END,
      updated_at = now()
  WHERE id = $1
  RETURNING ${endpointColumns}`;

export const rotateSecret = `
  UPDATE webhook_endpoints
  SET previous_secret = secret, secret = $2,
      previous_secret_expires_at = now() + $3::bigint * interval '1 millisecond',
      updated_at = now()
  WHERE id = $1
  RETURNING ${endpointColumns}`;

export const deleteEndpoint = `DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id`;

/**
 * Counts a failure; disables the endpoint once both limits are reached: so many failures in
 * a row, failing for so long (a burst during a short outage disables nothing).
 */
export const endpointFailed = `
  UPDATE webhook_endpoints
  SET consecutive_failures = consecutive_failures + 1,
      failing_since = coalesce(failing_since, now()),
      disabled_at = CASE
        WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2
          AND now() - coalesce(failing_since, now()) >= $3::bigint * interval '1 millisecond'
        THEN now() ELSE disabled_at END,
      disabled_reason = CASE
        WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2
          AND now() - coalesce(failing_since, now()) >= $3::bigint * interval '1 millisecond'
        THEN 'failed ' || (consecutive_failures + 1) || ' times in a row since '
          || coalesce(failing_since, now())::text
        ELSE disabled_reason END,
      updated_at = now()
  WHERE id = $1
  RETURNING disabled_at IS NOT NULL AS disabled`;

export const endpointSucceeded = `
  UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL
  WHERE id = $1 AND (consecutive_failures <> 0 OR failing_since IS NOT NULL)`;
