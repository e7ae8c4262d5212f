import type { FastifyInstance } from 'fastify';

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
        response: {
          200: {
            type: 'object',
            required: ['name', 'version', 'links'],
            properties: {
              name: { type: 'string' },
              version: { type: 'string' },
              description: { type: 'string' },
              links: {
                type: 'object',
                additionalProperties: { type: 'string' },
                description: 'Paths on this server',
              },
            },
          },
        },
      },
    },
    async () => description,
  );
}
