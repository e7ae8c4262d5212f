import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import sjson from 'secure-json-parse';
import type { IngestService, Submission } from '../../app/ingest.ts';
import type { ContractCheck } from '../../app/schemas/contract-check.ts';
import {
  batchIdempotencyKeyMaxLength,
  batchItemId,
  EVENT_ID_MAX_LENGTH,
  inferTopic,
  type Topic,
} from '../../domain/events.ts';
import { ErrorCodes } from '../../errors.ts';
import { requestTraceparent } from '../../observability/tracing.ts';
import type { DedupeStore } from '../../ports/dedupe.ts';
import type { EventStore } from '../../ports/event-store.ts';
import { problem as problemJson } from '../api-schemas/common.ts';
import * as api from '../api-schemas/events.ts';
import { contractOutcome } from '../contracts.ts';
import { type FieldError, fieldErrors, problem, problemOf, sendProblem } from '../problem.ts';

export interface EventRoutesOptions {
  ingest: IngestService;
  store: EventStore;
  batchMaxEvents: number;
  /** Event contracts: each analytics and EventFlow event is checked against its type's schema. */
  contracts?: ContractCheck;
  /** The dedupe window (issue #20): an event's `deduplicated` field says what was refused. */
  dedupe?: { store: DedupeStore; windowMs: number };
}

const TOPIC_SCHEMAS = {
  analytics: api.analyticsEvent,
  chemical: api.chemicalEvent,
  events: api.genericEvent,
} as const;

/** The ingestion API: the seeds' three single-event shapes, a batch endpoint, event status. */
export async function eventRoutes(app: FastifyInstance, options: EventRoutesOptions) {
  const { ingest, store, batchMaxEvents, contracts, dedupe } = options;
  const contractOf = (topic: Topic, body: Record<string, unknown>) =>
    contracts === undefined ? undefined : contractOutcome(contracts.check(topic, body));
  // Batch items are validated one by one here, so each gets its own result.
  const ajv = addFormats.default(new Ajv.default({ allErrors: true, coerceTypes: false }));
  const validators = Object.fromEntries(
    Object.entries(TOPIC_SCHEMAS).map(([topic, schema]) => [topic, ajv.compile(schema)]),
  ) as Record<Topic, ValidateFunction>;

  app.addContentTypeParser(
    'application/x-ndjson',
    { parseAs: 'string' },
    (_request, body, done) => {
      const items: unknown[] = [];
      const lines = String(body).split('\n');
      for (const [index, line] of lines.entries()) {
        if (line.trim() === '') continue;
        try {
          items.push(sjson.parse(line, { protoAction: 'error', constructorAction: 'error' }));
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          const failure = new SyntaxError(`line ${index + 1} is not valid JSON: ${reason}`);
          done(failure, undefined);
          return;
        }
      }
      done(null, items);
    },
  );

  const single = (path: string, topic: Topic, summary: string) =>
    app.post(
      path,
      {
        schema: {
          summary,
          tags: ['events'],
          headers: api.idempotencyKeyHeader(
            EVENT_ID_MAX_LENGTH,
            'Used as the event id when the body has no id',
          ),
          body: TOPIC_SCHEMAS[topic],
          response: { 202: api.acceptedResponse },
        },
      },
      async (request, reply) => {
        const idempotencyKey = idempotencyKeyOf(request);
        const body = request.body as Record<string, unknown>;
        const contract = contractOf(topic, body);
        if (contract?.rejected) return sendProblem(reply, contract.rejected);
        const [accepted] = await ingest.accept([
          submission(request, topic, body, idempotencyKey, contract?.checked),
        ]);
        if (accepted === undefined) throw new Error('ingest returned no result');
        reply.header('location', `/api/v1/events/${encodeURIComponent(accepted.id)}`);
        if (contract?.deprecation) reply.header('deprecation', contract.deprecation);
        return reply.code(202).send({
          status: 'accepted',
          event_id: accepted.id,
          topic: accepted.topic,
          duplicate: accepted.duplicate,
          correlation_id: request.id,
          ...(contract?.quarantined ? { quarantined: true, errors: contract.errors } : {}),
        });
      },
    );

  single('/api/v1/events/analytics', 'analytics', 'Publish a user analytics event');
  single('/api/v1/events/chemical', 'chemical', 'Publish a chemical research event');
  single('/events', 'events', 'Publish an event (EventFlow shape)');

  app.post(
    '/api/v1/events/batch',
    {
      schema: {
        summary: 'Publish many events: a JSON array, {"events": [...]}, or NDJSON',
        description:
          'Each item is validated on its own: valid items are accepted, invalid ones are reported ' +
          'with their index. An item\'s family comes from its "topic" (analytics, chemical, events) ' +
          'or, when absent, from its shape (molecule_id → chemical, properties → events, else analytics). ' +
          'With an Idempotency-Key header, item i without an id gets the id "<key>:<i>".',
        tags: ['events'],
        consumes: ['application/json', 'application/x-ndjson'],
        headers: api.idempotencyKeyHeader(
          batchIdempotencyKeyMaxLength(batchMaxEvents),
          'Item i without an id gets the id "<key>:<i>"; short enough that every such id fits',
        ),
        body: api.batchBody,
        response: {
          202: api.batchResponse,
          413: { ...problemJson, description: `More than ${batchMaxEvents} events` },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as unknown[] | { events: unknown[] };
      const items = Array.isArray(body) ? body : body.events;
      if (items.length === 0) {
        return sendProblem(reply, problemOf(ErrorCodes.VALIDATION, 'the batch is empty'));
      }
      if (items.length > batchMaxEvents) {
        return sendProblem(
          reply,
          problem(
            413,
            'batch-too-large',
            'Batch too large',
            `${items.length} events; at most ${batchMaxEvents} per request`,
          ),
        );
      }
      const idempotencyKey = idempotencyKeyOf(request);

      type Result = {
        index: number;
        status: 'accepted' | 'rejected';
        errors?: FieldError[];
        event_id?: string;
        topic?: string;
        duplicate?: boolean;
        quarantined?: boolean;
      };
      const results: Result[] = [];
      const valid: { index: number; submission: Submission }[] = [];
      const quarantined = new Map<number, FieldError[]>();
      for (const [index, item] of items.entries()) {
        const checked = checkItem(item, validators);
        if ('errors' in checked) {
          results[index] = { index, status: 'rejected', errors: checked.errors };
          continue;
        }
        const contract = contractOf(checked.topic, checked.body);
        if (contract?.rejected) {
          results[index] = { index, status: 'rejected', errors: contract.errors };
          continue;
        }
        if (contract?.quarantined) quarantined.set(index, contract.errors ?? []);
        const key = idempotencyKey === undefined ? undefined : batchItemId(idempotencyKey, index);
        valid.push({
          index,
          submission: submission(request, checked.topic, checked.body, key, contract?.checked),
        });
      }
      if (valid.length === 0) {
        const body = problemOf(ErrorCodes.VALIDATION, 'no event in the batch is valid');
        body.results = results;
        return sendProblem(reply, body);
      }
      const accepted = await ingest.accept(valid.map((v) => v.submission));
      let duplicates = 0;
      for (const [i, { index }] of valid.entries()) {
        const a = accepted[i];
        if (a === undefined) continue;
        if (a.duplicate) duplicates++;
        results[index] = {
          index,
          status: 'accepted',
          event_id: a.id,
          topic: a.topic,
          duplicate: a.duplicate,
        };
        const violations = quarantined.get(index);
        if (violations !== undefined)
          Object.assign(results[index], { quarantined: true, errors: violations });
      }
      return reply.code(202).send({
        accepted: valid.length,
        rejected: items.length - valid.length,
        duplicates,
        correlation_id: request.id,
        results,
      });
    },
  );

  app.get(
    '/api/v1/events/:id',
    {
      schema: {
        summary: 'An event and its status: accepted, processed, failed (retrying) or dead_lettered',
        tags: ['events'],
        params: api.eventIdParams,
        response: { 200: api.eventWithDedupe, 404: problemJson },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const [record, seen] = await Promise.all([
        store.get(id),
        dedupe?.store.lookup(id, dedupe.windowMs),
      ]);
      if (record === undefined) {
        return sendProblem(
          reply,
          problemOf(ErrorCodes.NOT_FOUND, `no event with id "${id}"`, 'Event not found'),
        );
      }
      return { ...api.eventRecordJson(record), deduplicated: api.deduplicatedJson(seen) };
    },
  );
}

/** The header as the route's schema validated it. */
function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const value = request.headers['idempotency-key'];
  return typeof value === 'string' ? value : undefined;
}

function submission(
  request: FastifyRequest,
  topic: Topic,
  body: Record<string, unknown>,
  idempotencyKey: string | undefined,
  schemaChecked?: string,
): Submission {
  const traceparent = requestTraceparent(request);
  const s: Submission = { topic, body, correlationId: request.id };
  if (idempotencyKey !== undefined) s.idempotencyKey = idempotencyKey;
  if (schemaChecked !== undefined) s.schemaChecked = schemaChecked;
  if (traceparent !== undefined) s.traceparent = traceparent;
  return s;
}

function checkItem(
  item: unknown,
  validators: Record<Topic, ValidateFunction>,
): { topic: Topic; body: Record<string, unknown> } | { errors: FieldError[] } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return { errors: [{ field: '(item)', message: 'must be an object' }] };
  }
  const body = item as Record<string, unknown>;
  const topic = inferTopic(body);
  if (topic === undefined) {
    return { errors: [{ field: 'topic', message: 'must be one of analytics, chemical, events' }] };
  }
  const validate = validators[topic];
  if (!validate(body)) return { errors: fieldErrors(validate.errors ?? []) };
  return { topic, body };
}
