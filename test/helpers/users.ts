/**
 * Helpers for the user service's tests. PGlite takes seconds to start on a loaded machine, so
 * the PGlite runs share one database per suite and empty the user tables before each test;
 * server Postgres gets a fresh schema per test as usual.
 */
import { after, type TestContext } from 'node:test';
import type { Database } from '../../src/ports/database.ts';
import type { DatabaseFactory } from './databases.ts';

const USER_TABLES = 'users, sessions, login_failures, outbox, notification_preferences';

export function userTestDatabase(factory: DatabaseFactory): (t: TestContext) => Promise<Database> {
  if (factory.kind !== 'pglite') return (t) => factory.open(t);
  let shared: Promise<Database> | undefined;
  after(async () => (await shared)?.close());
  return async () => {
    shared ??= factory.open({ after: () => {} } as unknown as TestContext);
    const db = await shared;
    await db.query(`TRUNCATE ${USER_TABLES} RESTART IDENTITY CASCADE`);
    await db.query('UPDATE outbox_relay SET holder = NULL, lease_until = NULL');
    return db;
  };
}
