/**
 * A bare Fastify route with Herald's schema validation (the same JSON Schemas, the same strict
 * Ajv settings) that answers 202 without storing anything: what the framework alone costs.
 */
import { randomUUID } from 'node:crypto';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import Fastify from 'fastify';
import * as schemas from '../../src/http/api-schemas/events.ts';

const app = Fastify({ logger: false });
const ajv = addFormats.default(
  new Ajv.default({ allErrors: true, coerceTypes: false, useDefaults: true, strict: false }),
);
app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
const validateItem = ajv.compile(schemas.analyticsEvent);

app.post(
  '/api/v1/events/analytics',
  { schema: { body: schemas.analyticsEvent, response: { 202: schemas.acceptedResponse } } },
  async (_request, reply) =>
    reply.code(202).send({
      status: 'accepted',
      event_id: randomUUID(),
      topic: 'analytics',
      duplicate: false,
      correlation_id: randomUUID(),
    }),
);

app.post(
  '/api/v1/events/batch',
  {
    schema: {
      body: {
        type: 'object',
        required: ['events'],
        properties: { events: { type: 'array', items: {} } },
      },
    },
  },
  async (request, reply) => {
    const { events } = request.body as { events: unknown[] };
    const results = events.map((item, index) =>
      validateItem(item)
        ? { index, status: 'accepted', event_id: randomUUID() }
        : { index, status: 'rejected' },
    );
    return reply.code(202).send({ accepted: results.length, results });
  },
);

const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ ready: true, url })}\n`);
process.on('SIGTERM', () => {
  void app.close();
});
