/** Helpers for the user service's tests: a fresh schema per test on either database. */
import type { TestContext } from 'node:test';
import type { Database } from '../../src/ports/database.ts';
import type { DatabaseFactory } from './databases.ts';

export function userTestDatabase(factory: DatabaseFactory): (t: TestContext) => Promise<Database> {
  return (t) => factory.open(t);
}
