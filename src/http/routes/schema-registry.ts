import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SchemaCatalog } from '../../app/schemas/catalog.ts';
import type { ContractCheck } from '../../app/schemas/contract-check.ts';
import { type SchemaRegistry, schemaView } from '../../app/schemas/registry.ts';
import type { SchemaActor } from '../../ports/schema-registry.ts';
import { problem } from '../api-schemas/common.ts';
import * as api from '../api-schemas/schema-registry.ts';

export interface SchemaRoutesOptions {
  registry: SchemaRegistry;
  catalog: SchemaCatalog;
  /** The ingest check, as events.ts calls it once per event. */
  contracts: ContractCheck;
}

const TAG = ['schemas'];

/** Who made a change: the API key, or nobody known when keys are off (loopback). */
function actorOf(request: FastifyRequest): SchemaActor {
  const principal = request.principal;
  return principal === undefined
    ? { keyId: null, name: 'anonymous (API keys not required)' }
    : { keyId: principal.keyId, name: principal.name };
}

/**
 * The schema registry (issue #21): event contracts per event type, in versions, checked for
 * compatibility on every change. Reading needs `analytics:read`; changes need `admin`. Its
 * refusals are SCHEMA_INVALID (422 naming each part of the schema) and SCHEMA_INCOMPATIBLE
 * (409 naming each break), answered by the error table (problem.ts).
 */
export async function schemaRoutes(app: FastifyInstance, options: SchemaRoutesOptions) {
  const { registry } = options;

  app.get(
    '/api/v1/schemas',
    {
      schema: {
        summary: 'Registered event types and their latest versions',
        tags: TAG,
        response: { 200: api.listResponse },
      },
    },
    async () => ({ schemas: (await registry.list()).map(api.typeSummaryJson) }),
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
        params: api.eventTypeParams,
        querystring: api.registerQuery,
        body: api.registerBody,
        response: { ...api.registerResponses, ...api.changeProblems },
      },
    },
    async (request, reply) => {
      const { event_type: eventType } = request.params as { event_type: string };
      const { dry_run: dryRun } = request.query as { dry_run: boolean };
      const body = request.body as api.RegisterBody;
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
        params: api.eventTypeParams,
        body: api.configureBody,
        response: { 200: api.configureResponse, ...api.changeProblems },
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
        params: api.eventTypeParams,
        querystring: api.versionQuery,
        response: { 200: api.schemaResponse, 404: problem },
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
        params: api.eventTypeParams,
        response: { 200: api.versionsResponse, 404: problem },
      },
    },
    async (request) => {
      const { event_type: eventType } = request.params as { event_type: string };
      const versions = await registry.versions(eventType);
      return { versions: versions.map(api.versionJson) };
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
        params: api.eventTypeParams,
        querystring: api.diffQuery,
        response: { 200: api.diffResponse, 404: problem },
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
        params: api.eventTypeParams,
        querystring: api.changesQuery,
        response: { 200: api.changesResponse, 404: problem },
      },
    },
    async (request) => {
      const { event_type: eventType } = request.params as { event_type: string };
      const { limit } = request.query as { limit: number };
      const changes = await registry.changes(eventType, limit);
      return { changes: changes.map(api.changeRecordJson) };
    },
  );
}
