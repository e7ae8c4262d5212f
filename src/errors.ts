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
  /** The database refused one event's content (details.sqlstate says how); never retried. */
  STORE_REFUSED: 'HERALD_STORE_REFUSED',
  NOT_FOUND: 'HERALD_NOT_FOUND',
  /** The API sheds ingestion (event loop behind, too many events waiting for a commit). */
  OVERLOADED: 'HERALD_OVERLOADED',
  /** The API is closing; the client retries elsewhere. */
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
  /**
   * The schema registry cannot take a schema: it is not a usable contract (details.errors
   * names each part), or it would be one type too many.
   */
  SCHEMA_INVALID: 'HERALD_SCHEMA_INVALID',
  /** A new schema version breaks its type's compatibility; details.breaks names each break. */
  SCHEMA_INCOMPATIBLE: 'HERALD_SCHEMA_INCOMPATIBLE',
  /** An LLM call failed (LlmError: its `kind` says how, `retryable` whether it may pass). */
  LLM_FAILED: 'HERALD_LLM_FAILED',
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

/**
 * Whether an error may go away if the operation is tried again later: the database or broker
 * cannot be reached, is shutting down or short of resources, or the statement lost a race
 * (serialization failure, deadlock, lock timeout). Anything else, above all a database refusing
 * what it was given (see isContentRefusal), fails the same way on every try.
 */
export function isRetryable(error: unknown): boolean {
  if (isHeraldError(error)) return error.retryable;
  if (isConnectionError(error)) return true;
  const state = sqlStateOf(error);
  return state !== undefined && !refusesContent(state);
}

/**
 * Whether the database refused the content it was given (SQLSTATE classes 21, 22, 23, 44, 54
 * and most of 42: invalid JSON or text, a time or number out of range, a constraint, a value
 * too large, …): a permanent failure of the events in the statement, not of the database.
 */
export function isContentRefusal(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state !== undefined && refusesContent(state);
}

/** The SQLSTATE of a database error (node-postgres and PGlite both set `code`), if any. */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !SQLSTATE.test(code)) return undefined;
  return RETRYABLE_NETWORK_CODES.has(code) ? undefined : code;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

// SQLSTATE classes that describe the data a statement was given: 21 cardinality (one
// statement touching a row twice), 22 data exception (invalid JSON or text, times and numbers
// out of range), 23 integrity constraints (the expected conflicts are ON CONFLICT clauses and
// never raised), 44 check option, 54 program limits (a value or index row too large, nesting
// too deep), P0 raised by our own functions.
const CONTENT_CLASSES = new Set(['21', '22', '23', '44', '54', 'P0']);
// Class 42 is mostly about a statement's values (a type mismatch, a value jsonb or a cast
// refuses), except where the schema is not what the code expects: a migration not applied yet
// or a deploy half done. Waiting for the schema is right; dead-lettering every event is not.
const SCHEMA_MISMATCH = new Set([
  '42501', // insufficient_privilege
  '42601', // syntax_error: this code's SQL against a server that does not understand it
  '42P01', // undefined_table
  '42703', // undefined_column
  '42704', // undefined_object
  '42883', // undefined_function
  '42P02', // undefined_parameter
]);

function refusesContent(state: string): boolean {
  const stateClass = state.slice(0, 2);
  if (stateClass === '42') return !SCHEMA_MISMATCH.has(state);
  // 40002: a deferred constraint failed at commit, which is about the rows, not a race.
  return CONTENT_CLASSES.has(stateClass) || state === '40002';
}

// Errors node-postgres, ioredis and the network stack raise when a server is down or
// unreachable.
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

// SQLSTATEs of a lost or refused connection: class 08 (connection exception), 57P01–57P05
// (the server shuts down, crashed, is starting, the database was dropped, idle timeout) and
// 53300 (too many connections).
const CONNECTION_SQLSTATE = /^(08|57P0|53300)/;

// What the drivers say, without a code, when a connection is lost, cannot be had in time or
// is used after the pool closed (a process shutting down).
const CONNECTION_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end|PGlite is closed|Connection is closed/i;

/** Whether an error says that a server cannot be reached or the connection to it was lost. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (RETRYABLE_NETWORK_CODES.has(code)) return true;
    if (CONNECTION_SQLSTATE.test(code)) return true;
  }
  return CONNECTION_MESSAGES.test(error.message);
}
