/**
 * Herald's closed list of error codes. Every error that crosses a module boundary is a
 * HeraldError with one of these codes, so callers branch on `code`, never on message text.
 *
 * `retryable` says whether trying the same operation again later may succeed (a database that
 * is down, a provider's 429) or can never succeed (an invalid event).
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'HERALD_CONFIG_INVALID',
  VALIDATION: 'HERALD_VALIDATION',
  POISON_MESSAGE: 'HERALD_POISON_MESSAGE',
  DATABASE_UNAVAILABLE: 'HERALD_DATABASE_UNAVAILABLE',
  BROKER_UNAVAILABLE: 'HERALD_BROKER_UNAVAILABLE',
  TRANSIENT: 'HERALD_TRANSIENT',
  LEASE_LOST: 'HERALD_LEASE_LOST',
  IDEMPOTENCY_CONFLICT: 'HERALD_IDEMPOTENCY_CONFLICT',
  NOT_FOUND: 'HERALD_NOT_FOUND',
  OVERLOADED: 'HERALD_OVERLOADED',
  SHUTTING_DOWN: 'HERALD_SHUTTING_DOWN',
  /** A unique value (a user's email or username) is taken. */
  CONFLICT: 'HERALD_CONFLICT',
  /** No valid session, or a wrong password. */
  UNAUTHENTICATED: 'HERALD_UNAUTHENTICATED',
  /** Authenticated, but the role does not allow it. */
  FORBIDDEN: 'HERALD_FORBIDDEN',
  /** Too many attempts (logins); details.retryAfterMs says when to try again. */
  RATE_LIMITED: 'HERALD_RATE_LIMITED',
  /** A notification provider refused or failed a delivery; retryable says whether to retry. */
  DELIVERY_FAILED: 'HERALD_DELIVERY_FAILED',
  /** A webhook target resolves to a private or loopback address that is not allowed. */
  TARGET_REFUSED: 'HERALD_TARGET_REFUSED',
  /** An event breaks its type's registered schema; details.errors names each failing place. */
  SCHEMA_VIOLATION: 'HERALD_SCHEMA_VIOLATION',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface HeraldErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

/**
 * Base error with a stable code and a retryable flag.
 *
 * @example
 * throw new HeraldError(ErrorCodes.VALIDATION, 'formula "Xx2" has an unknown element', {
 *   details: { field: 'data.formula' },
 * });
 */
export class HeraldError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: HeraldErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HeraldError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

export function isHeraldError(error: unknown): error is HeraldError {
  return error instanceof HeraldError;
}

/** Whether an error may go away if the operation is tried again later. */
export function isRetryable(error: unknown): boolean {
  if (isHeraldError(error)) return error.retryable;
  return isConnectionError(error);
}

// Errors node-postgres and the network stack raise when the server is down or unreachable,
// plus the SQLSTATE classes that mean "try again" (08 connection, 40 serialization/deadlock,
// 53 resources, 57P0x shutdown).
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (RETRYABLE_NETWORK_CODES.has(code)) return true;
    if (/^(08|40|53|57P0)/.test(code)) return true;
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    error.message,
  );
}
