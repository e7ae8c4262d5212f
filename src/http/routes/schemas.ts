import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SchemaCatalog } from '../../app/schemas/catalog.ts';
import type { ContractCheck, ContractVerdict } from '../../app/schemas/contract-check.ts';
import { type SchemaRegistry, schemaView } from '../../app/schemas/registry.ts';
import { POSTGRES_INTEGER_MAX } from '../../domain/postgres-limits.ts';
import { isRecord, pointerStep } from '../../domain/schemas/json.ts';
import { COMPATIBILITY_MODES, VIOLATION_ACTIONS } from '../../domain/schemas/model.ts';
import { ErrorCodes } from '../../errors.ts';
import type { SchemaActor, SchemaTypeRecord } from '../../ports/schema-registry.ts';
import { type FieldError, type Problem, problemOf } from '../problem.ts';
import * as schemas from '../schemas.ts';

export interface SchemaRoutesOptions {
  registry: SchemaRegistry;
  catalog: SchemaCatalog;
  /** The ingest check, as events.ts calls it once per event. */
  contracts: ContractCheck;
}

const TAG = ['schemas'];

const anyJson = { description: 'any JSON value' } as const;

const actorJson = {
  type: 'object',
  properties: { key_id: { type: ['string', 'null'] }, name: { type: 'string' } },
} as const;

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

const eventTypeParams = {
  type: 'object',
  required: ['event_type'],
  properties: { event_type: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

// Versions are int4 in the registry.
const version = { type: 'integer', minimum: 1, maximum: POSTGRES_INTEGER_MAX } as const;

const problems = { 404: schemas.problem, 409: schemas.problem, 422: schemas.problem };

/** Who made a change: the API key, or nobody known when keys are off (loopback). */
function actorOf(request: FastifyRequest): SchemaActor {
  const principal = request.principal;
  return principal === undefined
    ? { keyId: null, name: 'anonymous (API keys not required)' }
    : { keyId: principal.keyId, name: principal.name };
}

function summary(type: SchemaTypeRecord) {
  return {
    event_type: type.eventType,
    latest_version: type.latestVersion,
    compatibility: type.compatibility,
    on_violation: type.onViolation,
    description: type.description,
    deprecated: type.deprecatedAt !== null,
    deprecation_message: type.deprecationMessage,
    updated_at: type.updatedAt,
    updated_by: { key_id: type.updatedBy.keyId, name: type.updatedBy.name },
  };
}

/**
 * The schema registry (issue #21): event contracts per event type, in versions, checked for
 * compatibility on every change. Reading needs `analytics:read`; changes need `admin`.
 */
export async function schemaRoutes(app: FastifyInstance, options: SchemaRoutesOptions) {
  const { registry } = options;

  app.get(
    '/api/v1/schemas',
    {
      schema: {
        summary: 'Registered event types and their latest versions',
        tags: TAG,
        response: {
          200: {
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
          },
        },
      },
    },
    async () => ({ schemas: (await registry.list()).map(summary) }),
  );

  app.put(
    '/api/v1/schemas/:event_type',
    {
      schema: {
        summary: 'Register a new version of an event type’s schema',
        description:
          'The schema (JSON Schema draft 2020-12) describes the event’s payload object: `properties` ' +
          'of an EventFlow event (POST /events), `metadata` of an analytics event. Each change is a ' +
          'new version, checked against the latest under the type’s compatibility (409 naming what ' +
          'breaks); the same schema again changes nothing. Only local `$ref`s (`#/$defs/…`); patterns ' +
          'run in linear time (RE2). 201 for a new type, 200 otherwise; `?dry_run=true` checks only.',
        tags: TAG,
        params: eventTypeParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { dry_run: { type: 'boolean', default: false } },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['schema'],
          properties: { schema: { description: 'a JSON Schema (object)' }, ...settingsProperties },
        },
        response: {
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
          ...problems,
        },
      },
    },
    async (request, reply) => {
      const { event_type: eventType } = request.params as { event_type: string };
      const { dry_run: dryRun } = request.query as { dry_run: boolean };
      const body = request.body as {
        schema: unknown;
        compatibility?: (typeof COMPATIBILITY_MODES)[number];
        on_violation?: (typeof VIOLATION_ACTIONS)[number];
        description?: string | null;
      };
      const input = {
        schema: body.schema,
        ...(body.compatibility === undefined ? {} : { compatibility: body.compatibility }),
        ...(body.on_violation === undefined ? {} : { onViolation: body.on_violation }),
        ...(body.description === undefined ? {} : { description: body.description }),
      };
      if (dryRun) {
        const preview = await registry.preview(eventType, input);
        return reply.code(200).send({ dry_run: true, ...preview });
      }
      const result = await registry.register(eventType, input, actorOf(request), request.id);
      const location = `/api/v1/schemas/${encodeURIComponent(eventType)}?version=${result.latest.version}`;
      return reply
        .code(result.outcome === 'created' ? 201 : 200)
        .header('location', location)
        .send({ outcome: result.outcome, ...schemaView(result.type, result.latest) });
    },
  );

  app.patch(
    '/api/v1/schemas/:event_type',
    {
      schema: {
        summary: 'Change an event type’s settings, or deprecate it (no new version)',
        description:
          'Events of a deprecated type are still accepted; their 202 carries a `Deprecation` header.',
        tags: TAG,
        params: eventTypeParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            ...settingsProperties,
            deprecated: { type: 'boolean' },
            deprecation_message: { type: ['string', 'null'], maxLength: 2000 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { outcome: { type: 'string' }, ...schemaJson.properties },
          },
          ...problems,
        },
      },
    },
    async (request) => {
      const { event_type: eventType } = request.params as { event_type: string };
      const body = request.body as Record<string, unknown>;
      const input = {
        ...(body.compatibility === undefined ? {} : { compatibility: body.compatibility }),
        ...(body.on_violation === undefined ? {} : { onViolation: body.on_violation }),
        ...(body.description === undefined ? {} : { description: body.description }),
        ...(body.deprecated === undefined ? {} : { deprecated: body.deprecated }),
        ...(body.deprecation_message === undefined
          ? {}
          : { deprecationMessage: body.deprecation_message }),
      } as Parameters<SchemaRegistry['configure']>[1];
      const result = await registry.configure(eventType, input, actorOf(request), request.id);
      return { outcome: result.outcome, ...schemaView(result.type, result.latest) };
    },
  );

  app.get(
    '/api/v1/schemas/:event_type',
    {
      schema: {
        summary: 'An event type’s schema: the latest version, or ?version=N',
        tags: TAG,
        params: eventTypeParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { version },
        },
        response: { 200: schemaJson, 404: schemas.problem },
      },
    },
    async (request) => {
      const { event_type: eventType } = request.params as { event_type: string };
      const { version: wanted } = request.query as { version?: number };
      const found = await registry.get(eventType, wanted);
      return schemaView(found.type, found.version);
    },
  );

  app.get(
    '/api/v1/schemas/:event_type/versions',
    {
      schema: {
        summary: 'Every version of an event type’s schema, oldest first',
        tags: TAG,
        params: eventTypeParams,
        response: {
          200: {
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
          },
          404: schemas.problem,
        },
      },
    },
    async (request) => {
      const { event_type: eventType } = request.params as { event_type: string };
      const versions = await registry.versions(eventType);
      return {
        versions: versions.map((v) => ({
          version: v.version,
          fingerprint: v.fingerprint,
          created_at: v.createdAt,
          created_by: { key_id: v.createdBy.keyId, name: v.createdBy.name },
          schema: v.schema,
        })),
      };
    },
  );

  app.get(
    '/api/v1/schemas/:event_type/diff',
    {
      schema: {
        summary: 'What changed between two versions, and what breaks in each direction',
        description:
          'Defaults: `to` the latest version, `from` the one before it. `backward` lists what `to` ' +
          'refuses that `from` accepted; `forward` the reverse.',
        tags: TAG,
        params: eventTypeParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { from: version, to: version },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              event_type: { type: 'string' },
              from: version,
              to: version,
              changes: { type: 'array', items: changeJson },
              backward: {
                type: 'object',
                properties: {
                  compatible: { type: 'boolean' },
                  breaks: { type: 'array', items: breakJson },
                },
              },
              forward: {
                type: 'object',
                properties: {
                  compatible: { type: 'boolean' },
                  breaks: { type: 'array', items: breakJson },
                },
              },
            },
          },
          404: schemas.problem,
        },
      },
    },
    async (request) => {
      const { event_type: eventType } = request.params as { event_type: string };
      const { from, to } = request.query as { from?: number; to?: number };
      const diff = await registry.diff(eventType, from, to);
      return {
        event_type: eventType,
        from: diff.from,
        to: diff.to,
        changes: diff.changes,
        backward: { compatible: diff.backward.length === 0, breaks: diff.backward },
        forward: { compatible: diff.forward.length === 0, breaks: diff.forward },
      };
    },
  );

  app.get(
    '/api/v1/schemas/:event_type/changes',
    {
      schema: {
        summary: 'Who changed an event type’s schema or settings, and when (newest first)',
        tags: TAG,
        params: eventTypeParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
        response: {
          200: {
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
          },
          404: schemas.problem,
        },
      },
    },
    async (request) => {
      const { event_type: eventType } = request.params as { event_type: string };
      const { limit } = request.query as { limit: number };
      const changes = await registry.changes(eventType, limit);
      return {
        changes: changes.map((c) => ({
          id: c.id,
          change: c.change,
          version: c.version,
          detail: c.detail,
          actor: { key_id: c.actor.keyId, name: c.actor.name },
          at: c.at,
        })),
      };
    },
  );
}

// --- Ingest ---------------------------------------------------------------------------------

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

// --- OpenAPI --------------------------------------------------------------------------------

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
