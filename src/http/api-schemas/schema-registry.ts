/**
 * The API's JSON for the schema registry (see common.ts): event types, their versions, diffs
 * and change log, and what registering or configuring a type takes and answers.
 */
import { POSTGRES_INTEGER_MAX } from '../../domain/postgres-limits.ts';
import { COMPATIBILITY_MODES, VIOLATION_ACTIONS } from '../../domain/schemas/model.ts';
import type {
  SchemaActor,
  SchemaChangeRecord,
  SchemaTypeRecord,
  SchemaVersionRecord,
} from '../../ports/schema-registry.ts';
import { problem } from './common.ts';

const anyJson = { description: 'any JSON value' } as const;

const actorJson = {
  type: 'object',
  properties: { key_id: { type: ['string', 'null'] }, name: { type: 'string' } },
} as const;

const actorOf = (actor: SchemaActor) => ({ key_id: actor.keyId, name: actor.name });

const settingsProperties = {
  compatibility: {
    type: 'string',
    enum: [...COMPATIBILITY_MODES],
    description:
      'what the next version must keep: backward (default: it accepts every event this one accepts), forward, full or none',
  },
  on_violation: {
    type: 'string',
    enum: [...VIOLATION_ACTIONS],
    description:
      'an event that breaks the schema: reject (422, the default) or quarantine (202, then dead-lettered with reason schema_violation)',
  },
  description: { type: ['string', 'null'], maxLength: 2000 },
} as const;

/** A type and one of its versions (app/schemas/registry.ts schemaView). */
const schemaJson = {
  type: 'object',
  properties: {
    event_type: { type: 'string' },
    version: { type: 'integer' },
    latest_version: { type: 'integer' },
    ...settingsProperties,
    deprecated: { type: 'boolean' },
    deprecated_at: { type: ['string', 'null'], format: 'date-time' },
    deprecation_message: { type: ['string', 'null'] },
    schema: { type: 'object', additionalProperties: true },
    fingerprint: { type: 'string', description: 'SHA-256 of the schema as canonical JSON' },
    created_at: { type: 'string', format: 'date-time' },
    created_by: actorJson,
    updated_at: { type: 'string', format: 'date-time' },
    updated_by: actorJson,
  },
} as const;

export const schemaResponse = schemaJson;

const changeJson = {
  type: 'object',
  properties: {
    path: { type: 'string', description: 'JSON Pointer into the schema' },
    change: { type: 'string', enum: ['added', 'removed', 'changed'] },
    from: anyJson,
    to: anyJson,
  },
} as const;

const breakJson = {
  type: 'object',
  properties: {
    kind: {
      type: 'string',
      enum: ['incompatible', 'unproven'],
      description: 'unproven: beyond what the checker decides; make it with compatibility none',
    },
    keyword: { type: 'string' },
    field: { type: 'string', description: 'where in the event, e.g. lines[].sku' },
    path: { type: 'string', description: 'JSON Pointer into the new version' },
    message: { type: 'string' },
  },
} as const;

export const eventTypeParams = {
  type: 'object',
  required: ['event_type'],
  properties: { event_type: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

// Versions are int4 in the registry.
const version = { type: 'integer', minimum: 1, maximum: POSTGRES_INTEGER_MAX } as const;

/** The refusals of a change: unknown type, incompatible version, unusable schema. */
export const changeProblems = { 404: problem, 409: problem, 422: problem };

export const listResponse = {
  type: 'object',
  properties: {
    schemas: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          event_type: { type: 'string' },
          latest_version: { type: 'integer' },
          ...settingsProperties,
          deprecated: { type: 'boolean' },
          deprecation_message: { type: ['string', 'null'] },
          updated_at: { type: 'string', format: 'date-time' },
          updated_by: actorJson,
        },
      },
    },
  },
} as const;

/** A type in the list, as listResponse describes it. */
export function typeSummaryJson(type: SchemaTypeRecord) {
  return {
    event_type: type.eventType,
    latest_version: type.latestVersion,
    compatibility: type.compatibility,
    on_violation: type.onViolation,
    description: type.description,
    deprecated: type.deprecatedAt !== null,
    deprecation_message: type.deprecationMessage,
    updated_at: type.updatedAt,
    updated_by: actorOf(type.updatedBy),
  };
}

export const registerQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { dry_run: { type: 'boolean', default: false } },
} as const;

export const registerBody = {
  type: 'object',
  additionalProperties: false,
  required: ['schema'],
  properties: { schema: { description: 'a JSON Schema (object)' }, ...settingsProperties },
} as const;

export interface RegisterBody {
  schema: unknown;
  compatibility?: (typeof COMPATIBILITY_MODES)[number];
  on_violation?: (typeof VIOLATION_ACTIONS)[number];
  description?: string | null;
}

export const registerResponses = {
  200: {
    type: 'object',
    properties: {
      outcome: { type: 'string', enum: ['created', 'version', 'settings', 'unchanged'] },
      dry_run: { type: 'boolean' },
      changes: { type: 'array', items: changeJson },
      ...schemaJson.properties,
    },
  },
  201: {
    type: 'object',
    properties: { outcome: { type: 'string' }, ...schemaJson.properties },
  },
} as const;

export const configureBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    ...settingsProperties,
    deprecated: { type: 'boolean' },
    deprecation_message: { type: ['string', 'null'], maxLength: 2000 },
  },
} as const;

export const configureResponse = {
  type: 'object',
  properties: { outcome: { type: 'string' }, ...schemaJson.properties },
} as const;

export const versionQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { version },
} as const;

export const versionsResponse = {
  type: 'object',
  properties: {
    versions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          version: { type: 'integer' },
          fingerprint: { type: 'string' },
          created_at: { type: 'string', format: 'date-time' },
          created_by: actorJson,
          schema: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
} as const;

/** A version in the list, as versionsResponse describes it. */
export function versionJson(v: SchemaVersionRecord) {
  return {
    version: v.version,
    fingerprint: v.fingerprint,
    created_at: v.createdAt,
    created_by: actorOf(v.createdBy),
    schema: v.schema,
  };
}

export const diffQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { from: version, to: version },
} as const;

const direction = {
  type: 'object',
  properties: {
    compatible: { type: 'boolean' },
    breaks: { type: 'array', items: breakJson },
  },
} as const;

export const diffResponse = {
  type: 'object',
  properties: {
    event_type: { type: 'string' },
    from: version,
    to: version,
    changes: { type: 'array', items: changeJson },
    backward: direction,
    forward: direction,
  },
} as const;

export const changesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
} as const;

export const changesResponse = {
  type: 'object',
  properties: {
    changes: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          change: {
            type: 'string',
            enum: ['created', 'version', 'settings', 'deprecated', 'undeprecated'],
          },
          version: { type: ['integer', 'null'] },
          detail: { type: 'object', additionalProperties: true },
          actor: actorJson,
          at: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
} as const;

/** A change in the log, as changesResponse describes it. */
export function changeRecordJson(c: SchemaChangeRecord) {
  return {
    id: c.id,
    change: c.change,
    version: c.version,
    detail: c.detail,
    actor: actorOf(c.actor),
    at: c.at,
  };
}
