import type { FastifyInstance } from 'fastify';
import * as api from '../api-schemas/operations.ts';

/**
 * `GET /`: what this is and where to go, for a person who opens the address and for health
 * checks that probe the root (seed 004's). Public, cheap, no database.
 */
export async function serviceRoutes(app: FastifyInstance, options: { version: string }) {
  const description = {
    name: 'herald',
    version: options.version,
    description: 'Durable event ingestion and processing',
    links: {
      docs: '/docs',
      openapi: '/docs/json',
      dashboard: '/dashboard/',
      health: '/health',
      ready: '/health/ready',
    },
  };
  app.get(
    '/',
    {
      schema: {
        summary: 'Service description: name, version and links to the docs, dashboard and health',
        tags: ['operations'],
        response: { 200: api.serviceDescription },
      },
    },
    async () => description,
  );
}
