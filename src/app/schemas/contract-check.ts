import type { ErrorObject } from 'ajv';
import type { Topic } from '../../domain/events.ts';
import { CONTRACT_FIELD, type ViolationAction } from '../../domain/schemas/model.ts';
import type { SchemaCatalog } from './catalog.ts';

/** One failing place of an event, as the API names them (`properties.amount`). */
export interface ContractError {
  field: string;
  message: string;
}

export type ContractVerdict =
  /** The type has no contract (or the topic carries none). */
  | { status: 'unchecked' }
  | { status: 'valid'; eventType: string; version: number; deprecatedAt: string | null }
  | {
      status: 'violation';
      /** What the type's contract says to do: answer 422, or accept and dead-letter. */
      action: ViolationAction;
      eventType: string;
      /** The version checked against; undefined when the event named one that does not exist. */
      version: number | undefined;
      errors: ContractError[];
    };

const UNCHECKED: ContractVerdict = { status: 'unchecked' };
const EMPTY = Object.freeze({});
const MAX_ERRORS = 50;

/**
 * The contract check of one event, the same at the API (before the 202) and in the worker
 * (after delivery, against the registry as it is then): the event is checked against the
 * version it names in `schema_version`, or its type's latest.
 *
 * @example
 * const verdict = contracts.check('events', { event_type: 'purchase', user_id: 'u1', properties: { amount: '12' } });
 * // { status: 'violation', action: 'reject', eventType: 'purchase', version: 2,
 * //   errors: [{ field: 'properties.amount', message: 'must be number' }] }
 */
export class ContractCheck {
  readonly #catalog: SchemaCatalog;
  readonly #required: boolean;

  /** `required`: types without a contract are violations too (SCHEMAS_REQUIRED). */
  constructor(catalog: SchemaCatalog, options: { required: boolean }) {
    this.#catalog = catalog;
    this.#required = options.required;
  }

  check(topic: Topic | string, body: Record<string, unknown>): ContractVerdict {
    const field = CONTRACT_FIELD[topic as Topic];
    if (field === undefined) return UNCHECKED;
    const eventType = String(body.event_type);
    const entry = this.#catalog.get(eventType);
    if (entry === undefined) {
      if (!this.#required) return UNCHECKED;
      return violation('reject', eventType, undefined, [
        {
          field: 'event_type',
          message: `"${eventType}" has no registered schema, and SCHEMAS_REQUIRED is on`,
        },
      ]);
    }
    const { type } = entry;
    const named = body.schema_version;
    let version = type.latestVersion;
    if (named !== undefined) {
      if (typeof named !== 'number' || !Number.isInteger(named) || named < 1) {
        return violation(type.onViolation, eventType, undefined, [
          { field: 'schema_version', message: 'must be a positive integer' },
        ]);
      }
      if (!entry.versions.has(named)) {
        return violation(type.onViolation, eventType, undefined, [
          {
            field: 'schema_version',
            message: `"${eventType}" has no version ${named} (the latest is ${type.latestVersion})`,
          },
        ]);
      }
      version = named;
    }
    const validate = this.#catalog.validator(eventType, version);
    if (validate === undefined) throw new Error(`no validator for ${eventType} v${version}`);
    const payload = body[field] ?? EMPTY;
    if (validate(payload)) {
      return { status: 'valid', eventType, version, deprecatedAt: type.deprecatedAt };
    }
    return violation(type.onViolation, eventType, version, contractErrors(validate.errors, field));
  }
}

function violation(
  action: ViolationAction,
  eventType: string,
  version: number | undefined,
  errors: ContractError[],
): ContractVerdict {
  return { status: 'violation', action, eventType, version, errors };
}

/** `/lines/0/sku` under `properties` → `properties.lines.0.sku`; a missing one is named. */
function contractErrors(
  errors: readonly ErrorObject[] | null | undefined,
  prefix: string,
): ContractError[] {
  return (errors ?? []).slice(0, MAX_ERRORS).map((e) => {
    const path = e.instancePath.split('/').filter(Boolean).join('.');
    const missing = (e.params as { missingProperty?: string }).missingProperty;
    const extra = (e.params as { additionalProperty?: string }).additionalProperty;
    const field = [prefix, path, missing ?? extra].filter((p) => p !== undefined && p !== '');
    const message = extra === undefined ? (e.message ?? 'is invalid') : 'is not allowed';
    return { field: field.join('.'), message };
  });
}

/** One line naming every failing place, for logs and dead letters. */
export function describeViolation(verdict: ContractVerdict & { status: 'violation' }): string {
  const which =
    verdict.version === undefined ? verdict.eventType : `${verdict.eventType} v${verdict.version}`;
  return `schema_violation: ${which}: ${verdict.errors.map((e) => `${e.field} ${e.message}`).join('; ')}`;
}
