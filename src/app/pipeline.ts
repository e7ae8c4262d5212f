import {
  analyzeFormula,
  compareReportedWeight,
  type FormulaAnalysis,
} from '../domain/chemistry/index.ts';
import {
  checkTimestamp,
  findUnstorable,
  quoted,
  storableText,
  textRefusal,
} from '../domain/postgres-limits.ts';
import { ErrorCodes, HeraldError, isContentRefusal, isRetryable, sqlStateOf } from '../errors.ts';
import type { DeliveredMessage } from '../ports/broker.ts';
import type { FailedEvent, FailureReason, ProcessedEvent } from '../ports/event-store.ts';

/** What processing decided for one delivered message. */
export type Outcome =
  | { kind: 'processed'; event: ProcessedEvent }
  | { kind: 'dead'; failure: FailedEvent }
  | { kind: 'retry'; failure: FailedEvent };

export interface StageContext {
  readonly message: DeliveredMessage;
  /** Facts stages add; persisted with the event. */
  readonly enrichment: Record<string, unknown>;
  /** What one stage worked out for a later one (not persisted), so nothing is computed twice. */
  readonly scratch: { formula?: FormulaAnalysis & { ok: true } };
  readonly now: Date;
}

/**
 * One step of the worker pipeline. A stage throws a HeraldError with code VALIDATION or
 * POISON_MESSAGE for an event that can never succeed (dead-lettered at once), a retryable
 * error (a retryable HeraldError, a lost connection) for one that may succeed later. Anything
 * else a stage throws is a failure of that event (poison): stages are deterministic over
 * their input, so the same input would throw the same way on every retry.
 */
export interface Stage {
  readonly name: string;
  run(context: StageContext): void | Promise<void>;
}

// Events stamped more than this far ahead of the server's clock are refused: a wrong clock or
// a unit mix-up, and they would sit at the top of every time series.
const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;

const REQUIRED_FIELDS: Record<string, Record<string, 'string' | 'object'>> = {
  analytics: { user_id: 'string', event_type: 'string' },
  chemical: { molecule_id: 'string', researcher: 'string', data: 'object' },
  events: { user_id: 'string', event_type: 'string' },
};

function invalid(message: string, field: string): HeraldError {
  return new HeraldError(ErrorCodes.VALIDATION, message, { details: { field } });
}

/**
 * Messages the API did not write (other producers on a shared broker) get checked here: what
 * is not a Herald message at all is poison; a payload holding what PostgreSQL cannot store is
 * invalid, as the API would have answered 422.
 */
export const decodeStage: Stage = {
  name: 'decode',
  run({ message }) {
    if (message.malformed !== undefined) {
      throw new HeraldError(ErrorCodes.POISON_MESSAGE, message.malformed.reason);
    }
    if (message.id === '') throw new HeraldError(ErrorCodes.POISON_MESSAGE, 'message has no id');
    const envelope: [string, string][] = [
      ['id', message.id],
      ['key', message.key],
      ['type', message.type],
      ...Object.entries(message.headers).map(([n, v]): [string, string] => [`header ${n}`, v]),
    ];
    for (const [what, text] of envelope) {
      const refusal = textRefusal(text);
      if (refusal !== undefined) {
        throw new HeraldError(
          ErrorCodes.POISON_MESSAGE,
          `message ${storableText(what)} ${refusal}`,
        );
      }
    }
    const shape = REQUIRED_FIELDS[message.topic];
    if (shape === undefined) {
      throw new HeraldError(ErrorCodes.POISON_MESSAGE, `unknown topic ${quoted(message.topic)}`);
    }
    for (const [field, type] of Object.entries(shape)) {
      const value = message.value[field];
      const ok =
        type === 'object' ? typeof value === 'object' && value !== null : typeof value === type;
      if (!ok) {
        throw new HeraldError(
          ErrorCodes.POISON_MESSAGE,
          `field "${field}" missing or not a ${type}`,
          {
            details: { field },
          },
        );
      }
    }
    const unstorable = findUnstorable(message.value);
    if (unstorable !== undefined) {
      throw invalid(`${unstorable.path} ${unstorable.reason}`, unstorable.path);
    }
  },
};

export const validateStage: Stage = {
  name: 'validate',
  run({ message, scratch, now }) {
    const timestamp = message.value.timestamp;
    if (timestamp !== undefined) {
      // A time PostgreSQL cannot store (an offset past ±15:59, the year 0) is refused here,
      // as the API refuses it, rather than failing the insert.
      const check =
        typeof timestamp === 'string'
          ? checkTimestamp(timestamp)
          : { ok: false as const, reason: 'not a string' };
      if (!check.ok) {
        throw invalid(
          `timestamp ${describe(timestamp)} is not storable: ${check.reason}`,
          'timestamp',
        );
      }
      if (check.epochMs - now.getTime() > MAX_FUTURE_SKEW_MS) {
        throw invalid('timestamp is more than 24 hours in the future', 'timestamp');
      }
    }
    if (message.topic === 'chemical') {
      const data = message.value.data as Record<string, unknown>;
      if (typeof data.formula !== 'string')
        throw invalid('data.formula must be a string', 'data.formula');
      const analysis = analyzeFormula(data.formula);
      if (!analysis.ok) {
        throw invalid(
          `data.formula ${quoted(data.formula)} is not a chemical formula: ${analysis.reason} (at ${analysis.position})`,
          'data.formula',
        );
      }
      scratch.formula = analysis;
    }
  },
};

export const enrichStage: Stage = {
  name: 'enrich',
  run({ message, enrichment, scratch, now }) {
    enrichment.received_at = message.acceptedAt.toISOString();
    enrichment.processed_at = now.toISOString();
    enrichment.processing_latency_ms = Math.max(0, now.getTime() - message.acceptedAt.getTime());
    if (message.topic !== 'chemical') return;
    const data = message.value.data as { formula: string; weight?: unknown };
    const analysis = scratch.formula ?? analyzeFormula(data.formula);
    if (!analysis.ok) return;
    const chemistry: Record<string, unknown> = {
      hill_formula: analysis.hill,
      composition: analysis.composition,
      molar_mass: analysis.averageMass,
      monoisotopic_mass: analysis.monoisotopicMass,
    };
    if (typeof data.weight === 'number') {
      const check = compareReportedWeight(data.weight, analysis.averageMass);
      chemistry.reported_weight = data.weight;
      chemistry.weight_matches = check.matches;
      chemistry.weight_difference = check.difference;
      chemistry.weight_tolerance = check.tolerance;
    }
    enrichment.chemistry = chemistry;
  },
};

export const defaultStages: readonly Stage[] = [decodeStage, validateStage, enrichStage];

/** A value quoted in a message: strings whole code points and short, others as JSON. */
function describe(value: unknown): string {
  return typeof value === 'string'
    ? quoted(value)
    : storableText(String(JSON.stringify(value)), 40);
}

/**
 * The error code a failure is recorded with: a HeraldError's own; HERALD_STORE_REFUSED for the
 * database refusing the content; HERALD_TRANSIENT for what may pass; else poison.
 */
export function errorCodeOf(error: unknown): string {
  if (error instanceof HeraldError) return error.code;
  if (isContentRefusal(error)) return ErrorCodes.STORE_REFUSED;
  if (isRetryable(error)) return ErrorCodes.TRANSIENT;
  return ErrorCodes.POISON_MESSAGE;
}

/**
 * An error as a dead letter tells it: its message and, for the database's errors, the
 * SQLSTATE and the detail (`invalid input syntax for type json (SQLSTATE 22P02: Unicode low
 * surrogate must follow a high surrogate.)`).
 */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const state = sqlStateOf(error);
  if (state === undefined) return message;
  const detail = (error as { detail?: unknown }).detail;
  return `${message} (SQLSTATE ${state}${typeof detail === 'string' ? `: ${detail}` : ''})`;
}

/** The id a dead letter is kept under: the event's, or its place in the broker when it has none. */
function deadLetterId(message: DeliveredMessage): string {
  return message.id !== ''
    ? message.id
    : `no-id:${message.topic}:${message.partition}:${message.offset}`;
}

export function failureOf(
  message: DeliveredMessage,
  reason: FailureReason,
  error: unknown,
  failedAt?: Date,
): FailedEvent {
  const failure: FailedEvent = {
    id: deadLetterId(message),
    topic: message.topic,
    type: message.type,
    key: message.key,
    payload: message.value,
    headers: message.headers,
    reason,
    errorCode: errorCodeOf(error),
    error: describeError(error),
    acceptedAt: message.acceptedAt,
    generation: message.generation,
    partition: message.partition,
    offset: message.offset,
  };
  if (message.malformed !== undefined) failure.rawValue = message.malformed.raw;
  if (failedAt !== undefined) failure.failedAt = failedAt;
  return failure;
}

/** Runs the stages over one message and classifies the result. */
export async function processMessage(
  message: DeliveredMessage,
  stages: readonly Stage[],
  now: Date = new Date(),
): Promise<Outcome> {
  const enrichment: Record<string, unknown> = {};
  const context: StageContext = { message, enrichment, scratch: {}, now };
  let current = '';
  try {
    for (const stage of stages) {
      current = stage.name;
      await stage.run(context);
    }
  } catch (error) {
    if (error instanceof HeraldError && error.code === ErrorCodes.VALIDATION) {
      return { kind: 'dead', failure: failureOf(message, 'invalid', error, now) };
    }
    if (error instanceof HeraldError && error.code === ErrorCodes.POISON_MESSAGE) {
      return { kind: 'dead', failure: failureOf(message, 'poison', error, now) };
    }
    if (error instanceof HeraldError && error.code === ErrorCodes.SCHEMA_VIOLATION) {
      return { kind: 'dead', failure: failureOf(message, 'schema_violation', error, now) };
    }
    // May pass on another try; the worker retries it within its budget.
    if (isRetryable(error)) {
      return { kind: 'retry', failure: failureOf(message, 'transient', error, now) };
    }
    // The stage threw over this event's content (a bug meeting an input, say): trying again
    // would throw again, and hold every event behind it.
    const failure = failureOf(message, 'poison', error, now);
    failure.error = `stage "${current}" failed: ${failure.error}`;
    return { kind: 'dead', failure };
  }
  const value = message.value;
  return {
    kind: 'processed',
    event: {
      id: message.id,
      topic: message.topic,
      type: message.type,
      key: message.key,
      userId: typeof value.user_id === 'string' ? value.user_id : null,
      payload: value,
      enrichment,
      occurredAt: typeof value.timestamp === 'string' ? value.timestamp : null,
      acceptedAt: message.acceptedAt,
      processedAt: now,
      correlationId: message.headers.correlation_id ?? null,
      partition: message.partition,
      offset: message.offset,
    },
  };
}
