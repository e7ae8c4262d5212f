/**
 * The event contracts (the schema registry's) at the HTTP edge: what the ingest routes answer
 * for a contract verdict, and each registered type's contract in the OpenAPI document.
 */
import type { SchemaCatalog } from '../app/schemas/catalog.ts';
import type { ContractVerdict } from '../app/schemas/contract-check.ts';
import { isRecord, pointerStep } from '../domain/schemas/json.ts';
import { ErrorCodes } from '../errors.ts';
import { type FieldError, type Problem, problemOf } from './problem.ts';

/**
 * What the ingest routes do with a contract verdict: a violation of a `reject` type is a 422
 * naming each failing place; anything else is accepted, a quarantined one flagged.
 */
export function contractOutcome(verdict: ContractVerdict):
  | { rejected: Problem; errors: FieldError[] }
  | {
      rejected?: undefined;
      quarantined: boolean;
      errors?: FieldError[];
      /** The `Deprecation` header (RFC 9745) of an event of a deprecated type. */
      deprecation?: string;
      /** The version a valid event was checked against (its schema_checked header). */
      checked?: string;
    } {
  if (verdict.status === 'unchecked') return { quarantined: false };
  if (verdict.status === 'valid') {
    const checked = String(verdict.version);
    const at = verdict.deprecatedAt;
    if (at === null) return { quarantined: false, checked };
    return { quarantined: false, checked, deprecation: `@${Math.floor(Date.parse(at) / 1000)}` };
  }
  if (verdict.action === 'quarantine') return { quarantined: true, errors: verdict.errors };
  const which =
    verdict.version === undefined ? verdict.eventType : `${verdict.eventType} v${verdict.version}`;
  const body = problemOf(
    ErrorCodes.SCHEMA_VIOLATION,
    `${which}: ${verdict.errors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
  );
  body.errors = verdict.errors;
  body.event_type = verdict.eventType;
  if (verdict.version !== undefined) body.schema_version = verdict.version;
  return { rejected: body, errors: verdict.errors };
}

const COMPONENT_NAME = /[^A-Za-z0-9._-]/g;

/** The OpenAPI component name of a type's contract (OpenAPI allows [A-Za-z0-9._-] only). */
export function contractComponentName(eventType: string): string {
  return `Contract.${eventType.replace(COMPONENT_NAME, '_')}`;
}

/** A schema moved into the OpenAPI document: its local `$ref`s re-rooted at its new place. */
function rerooted(schema: unknown, base: string): unknown {
  if (Array.isArray(schema)) return schema.map((item) => rerooted(item, base));
  if (!isRecord(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema') continue;
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#')) {
      out[key] = `#${base}${value.slice(1)}`;
    } else if (key === 'enum' || key === 'const' || key === 'default' || key === 'examples') {
      out[key] = value;
    } else {
      out[key] = rerooted(value, base);
    }
  }
  return out;
}

const CONTRACT_BODIES: Record<string, 'properties' | 'metadata'> = {
  '/events': 'properties',
  '/api/v1/events/analytics': 'metadata',
};

/**
 * Adds every registered type's contract (latest version) to an OpenAPI document: a component
 * `Contract.<type>` per type, and on the two ingest routes that carry contracts a request body
 * that is any of the typed events (`event_type` fixed, the payload field the contract) or the
 * generic one — so that clients generated from /docs/json know each type's fields.
 */
export function documentContracts(spec: Record<string, unknown>, catalog: SchemaCatalog) {
  const entries = [...catalog.types].sort((a, b) =>
    a.type.eventType.localeCompare(b.type.eventType),
  );
  if (entries.length === 0) return spec;
  spec.components ??= {};
  const components = spec.components as Record<string, unknown>;
  components.schemas ??= {};
  const componentSchemas = components.schemas as Record<string, unknown>;
  const named = new Map<string, string>();
  for (const { type, versions } of entries) {
    const latest = versions.get(type.latestVersion);
    if (latest === undefined) continue;
    let name = contractComponentName(type.eventType);
    for (let n = 2; Object.hasOwn(componentSchemas, name); n++) {
      name = `${contractComponentName(type.eventType)}.${n}`;
    }
    named.set(type.eventType, name);
    componentSchemas[name] = {
      ...(rerooted(latest.schema, `/components/schemas${pointerStep(name)}`) as object),
      'x-herald-contract': {
        event_type: type.eventType,
        version: type.latestVersion,
        compatibility: type.compatibility,
        on_violation: type.onViolation,
      },
      ...(type.deprecatedAt === null ? {} : { deprecated: true }),
    };
  }
  const paths = (spec.paths ?? {}) as Record<string, Record<string, unknown>>;
  for (const [path, field] of Object.entries(CONTRACT_BODIES)) {
    const content = (
      paths[path]?.post as { requestBody?: { content?: Record<string, { schema?: unknown }> } }
    )?.requestBody?.content?.['application/json'];
    if (content?.schema === undefined) continue;
    const generic = content.schema;
    content.schema = {
      anyOf: [
        ...[...named].map(([eventType, name]) => ({
          title: `${eventType} event`,
          allOf: [
            generic,
            {
              type: 'object',
              properties: {
                event_type: { const: eventType },
                [field]: { $ref: `#/components/schemas/${name}` },
                schema_version: {
                  type: 'integer',
                  minimum: 1,
                  description: 'the schema version to check against; the latest when absent',
                },
              },
            },
          ],
        })),
        generic,
      ],
    };
  }
  return spec;
}
