/**
 * The API's JSON for operations (see common.ts): the service description at `/`, liveness,
 * readiness and the metrics, as text and as the JSON summary.
 */

export const serviceDescription = {
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
} as const;

export const liveAnswer = {
  type: 'object',
  required: ['status', 'uptime_s'],
  properties: { status: { type: 'string', enum: ['ok'] }, uptime_s: { type: 'integer' } },
} as const;

// Open objects: what readiness and the summary report grows (stalls, …) without a schema change.
export const readyAnswer = {
  type: 'object',
  additionalProperties: true,
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ready'] },
    checks: {
      type: 'object',
      description: 'each check: ok (or, in a 503, unavailable: <why>)',
      additionalProperties: true,
    },
  },
} as const;

export const notReady = {
  description: 'Not ready: `checks` names the failing dependencies',
} as const;

export const metricsText = {
  description: 'Prometheus text exposition format 0.0.4',
  content: { 'text/plain': { schema: { type: 'string' } } },
} as const;

const perSecond = { type: 'number', description: 'per second since the previous read' } as const;

export const summaryAnswer = {
  type: 'object',
  additionalProperties: true,
  properties: {
    accepted: { type: 'integer' },
    processed: { type: 'integer' },
    failed: { type: 'integer', description: 'events retrying' },
    dead_lettered: { type: 'integer' },
    queue_depth: { type: 'integer', description: 'lag of the worker group, all partitions' },
    rates_per_second: {
      type: 'object',
      properties: { accepted: perSecond, processed: perSecond, dead_lettered: perSecond },
    },
    partitions: {
      type: 'array',
      description: 'lag per partition',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: { partition: { type: 'integer' }, lag: { type: 'integer' } },
      },
    },
    broker: { type: 'string' },
    database: { type: 'string' },
    started_at: { type: 'string', format: 'date-time' },
  },
} as const;
