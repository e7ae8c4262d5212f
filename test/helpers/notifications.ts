/** Helpers for the notification tests: a fresh schema per test on either database. */
import type { TestContext } from 'node:test';
import client from 'prom-client';
import type { Database } from '../../src/ports/database.ts';
import type { DatabaseFactory } from './databases.ts';

export function notificationTestDatabase(
  factory: DatabaseFactory,
): (t: TestContext) => Promise<Database> {
  return (t) => factory.open(t);
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
