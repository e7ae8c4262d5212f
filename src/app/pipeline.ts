import {
  analyzeFormula,
  compareReportedWeight,
  type FormulaAnalysis,
} from '../domain/chemistry/index.ts';
import { ErrorCodes, HeraldError } from '../errors.ts';
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
 * error for one that may succeed later; any other error counts as transient too.
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

/** Messages the API did not write (other producers on a shared broker) get checked here. */
export const decodeStage: Stage = {
  name: 'decode',
  run({ message }) {
    const shape = REQUIRED_FIELDS[message.topic];
    if (shape === undefined) {
      throw new HeraldError(ErrorCodes.POISON_MESSAGE, `unknown topic "${message.topic}"`);
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
  },
};

export const validateStage: Stage = {
  name: 'validate',
  run({ message, scratch, now }) {
    const timestamp = message.value.timestamp;
    if (timestamp !== undefined) {
      const at = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
      if (Number.isNaN(at)) throw invalid('timestamp is not an ISO 8601 date-time', 'timestamp');
      if (at - now.getTime() > MAX_FUTURE_SKEW_MS) {
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
          `data.formula "${data.formula}" is not a chemical formula: ${analysis.reason} (at ${analysis.position})`,
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

export function failureOf(
  message: DeliveredMessage,
  reason: FailureReason,
  error: unknown,
): FailedEvent {
  return {
    id: message.id,
    topic: message.topic,
    type: message.type,
    key: message.key,
    payload: message.value,
    headers: message.headers,
    reason,
    errorCode: error instanceof HeraldError ? error.code : ErrorCodes.TRANSIENT,
    error: error instanceof Error ? error.message : String(error),
    acceptedAt: message.acceptedAt,
    generation: message.generation,
  };
}

/** Runs the stages over one message and classifies the result. */
export async function processMessage(
  message: DeliveredMessage,
  stages: readonly Stage[],
  now: Date = new Date(),
): Promise<Outcome> {
  const enrichment: Record<string, unknown> = {};
  const context: StageContext = { message, enrichment, scratch: {}, now };
  try {
    for (const stage of stages) await stage.run(context);
  } catch (error) {
    if (error instanceof HeraldError && error.code === ErrorCodes.VALIDATION) {
      return { kind: 'dead', failure: failureOf(message, 'invalid', error) };
    }
    if (error instanceof HeraldError && error.code === ErrorCodes.POISON_MESSAGE) {
      return { kind: 'dead', failure: failureOf(message, 'poison', error) };
    }
    if (error instanceof HeraldError && error.code === ErrorCodes.SCHEMA_VIOLATION) {
      return { kind: 'dead', failure: failureOf(message, 'schema_violation', error) };
    }
    // Retryable or unexpected: either may pass on another try, and retries are bounded.
    return { kind: 'retry', failure: failureOf(message, 'retries_exhausted', error) };
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
