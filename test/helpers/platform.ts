import type { Stage } from '../../src/app/pipeline.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { type Roles, type RunningPlatform, startPlatform } from '../../src/platform/start.ts';
import { type DatabaseKind, databaseUrl, dropSchema, uniqueSchema } from './databases.ts';

/** What the helpers need of a test: somewhere to register cleanup. */
export interface Cleanup {
  after(fn: () => unknown): unknown;
}

/**
 * Herald in this process, listening on a free port, in a fresh schema of the run's embedded
 * PostgreSQL (or of the server with `database: 'postgres'`); stopped and its schema dropped
 * after the test. `settings` are environment-style overrides (e.g. { RETRY_BASE_MS: '10' }).
 */
export async function startTestPlatform(
  t: Cleanup,
  settings: Record<string, string> = {},
  options: { roles?: Roles; stages?: readonly Stage[]; database?: DatabaseKind } = {},
): Promise<RunningPlatform & { url: string }> {
  const platform = await startInProcess(t, settings, options);
  if (platform.url === undefined) throw new Error('platform has no API');
  return platform as RunningPlatform & { url: string };
}

/**
 * `herald worker` in this process on the PostgreSQL server (a fresh schema), its ops endpoints
 * (/health/live, /health/ready, /metrics) on a free port; stopped after the test.
 */
export async function startTestWorker(
  t: Cleanup,
  settings: Record<string, string> = {},
): Promise<RunningPlatform & { opsUrl: string }> {
  const platform = await startInProcess(t, settings, {
    roles: { api: false, worker: true },
    database: 'postgres',
  });
  if (platform.opsUrl === undefined) throw new Error('worker has no ops endpoints');
  return platform as RunningPlatform & { opsUrl: string };
}

async function startInProcess(
  t: Cleanup,
  settings: Record<string, string>,
  options: { roles?: Roles; stages?: readonly Stage[]; database?: DatabaseKind },
): Promise<RunningPlatform> {
  const url = databaseUrl(options.database ?? 'embedded');
  const schema = uniqueSchema();
  const database = { DATABASE_URL: url, DATABASE_SCHEMA: schema };
  const config = loadConfig(
    {},
    {
      ...database,
      PORT: '0',
      OPS_PORT: '0',
      // Tests of the read port turn it on (on a free port); others would race for 8001.
      READ_PORT: 'off',
      LOG_LEVEL: 'silent',
      WORKER_POLL_MS: '10',
      // Shedding on event-loop delay answers by the machine's timing, not by the behaviour a
      // test checks (a slow CI machine's start-up stall alone can exceed the threshold);
      // test/faults/overload.test.ts turns it on.
      OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
      ...settings,
    },
  );
  const platform = await startPlatform(
    config,
    createLogger(config.logLevel),
    options.roles ?? { api: true, worker: true },
    {
      ...(options.stages ? { stages: options.stages } : {}),
    },
  );
  // After hooks run in the order registered: stop the platform first, then drop its schema.
  t.after(async () => {
    await platform.stop();
    if (process.env.HERALD_KEEP_TEST_DATA === undefined) await dropSchema(schema, url);
  });
  return platform;
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
}

export async function getJson(
  url: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The seeds' curl examples, as they send them. */
export const SEED_EXAMPLES = [
  {
    path: '/api/v1/events/analytics',
    body: {
      user_id: 'user_12345',
      event_type: 'page_view',
      timestamp: '2024-01-01T12:00:00Z',
      metadata: { page: '/dashboard', source: 'web' },
    },
  },
  {
    path: '/api/v1/events/chemical',
    body: {
      molecule_id: 'mol_h2o_001',
      researcher: 'Dr. Jane Smith',
      data: { formula: 'H2O', weight: 18.015 },
      timestamp: '2024-01-01T12:00:00Z',
    },
  },
  {
    path: '/events',
    body: {
      event_type: 'purchase',
      user_id: 'user123',
      properties: { amount: 99.99, product: 'Widget' },
    },
  },
] as const;
