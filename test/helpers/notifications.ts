/**
 * Helpers for the notification tests. As in helpers/users.ts, PGlite runs share one database
 * per suite (it takes seconds to start on a loaded machine) and empty the notification
 * tables before each test; server Postgres gets a fresh schema per test.
 */
import { after, type TestContext } from 'node:test';
import client from 'prom-client';
import type { Database } from '../../src/ports/database.ts';
import type { DatabaseFactory } from './databases.ts';

const NOTIFICATION_TABLES =
  'notification_attempts, notification_deliveries, webhook_endpoints, push_subscriptions, notification_preferences';

export function notificationTestDatabase(
  factory: DatabaseFactory,
): (t: TestContext) => Promise<Database> {
  if (factory.kind !== 'pglite') return (t) => factory.open(t);
  let shared: Promise<Database> | undefined;
  after(async () => (await shared)?.close());
  return async () => {
    shared ??= factory.open({ after: () => {} } as unknown as TestContext);
    const db = await shared;
    await db.query(`TRUNCATE ${NOTIFICATION_TABLES} CASCADE`);
    return db;
  };
}

/** A herald_notifications_total counter of its own (no registry), for the app's tests. */
export function notificationCounter() {
  return new client.Counter({
    name: 'herald_notifications_total',
    help: 'test',
    labelNames: ['channel', 'outcome'] as const,
    registers: [],
  });
}

/** The counter's value for one channel and outcome. */
export async function counted(
  counter: ReturnType<typeof notificationCounter>,
  channel: string,
  outcome: string,
): Promise<number> {
  const values = (await counter.get()).values;
  return (
    values.find((v) => v.labels.channel === channel && v.labels.outcome === outcome)?.value ?? 0
  );
}
