/**
 * Runs a suite against both databases Herald supports: embedded PGlite (in memory) and the
 * PostgreSQL server (a fresh schema per test, dropped afterwards unless HERALD_KEEP_TEST_DATA
 * is set, to look at what a failing test left).
 */
import { randomBytes } from 'node:crypto';
import { describe, type TestContext } from 'node:test';
import pg from 'pg';
import { migrate } from '../../src/adapters/postgres/migrate.ts';
import { openPglite } from '../../src/adapters/postgres/pglite.ts';
import { openPostgres } from '../../src/adapters/postgres/server.ts';
import type { Database } from '../../src/ports/database.ts';

export const POSTGRES_URL =
  process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

export interface DatabaseFactory {
  kind: 'pglite' | 'postgres';
  /** A migrated, empty database for one test; closed (and cleaned) after it. */
  open(t: TestContext, options?: { poolSize?: number }): Promise<Database & { schema?: string }>;
}

export function uniqueSchema(prefix = 'herald_test'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/**
 * Drops a test's schema. A process of the test that is still winding down (a worker finishing a
 * batch, a child being killed) can hold locks the drop needs in the other order: Postgres breaks
 * that deadlock by failing one side, so the drop is retried rather than failing the test.
 */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        return;
      } catch (error) {
        const code = (error as { code?: string }).code;
        const transient = code === '40P01' || code === '55P03';
        if (!transient || attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  } finally {
    await client.end();
  }
}

const pglite: DatabaseFactory = {
  kind: 'pglite',
  async open(t) {
    const db = await openPglite('memory://');
    await migrate(db);
    t.after(() => db.close());
    return db;
  },
};

const postgres: DatabaseFactory = {
  kind: 'postgres',
  async open(t, options = {}) {
    const schema = uniqueSchema();
    const db = await openPostgres({ url: POSTGRES_URL, schema, poolSize: options.poolSize ?? 5 });
    await migrate(db);
    t.after(async () => {
      await db.close();
      if (process.env.HERALD_KEEP_TEST_DATA === undefined) await dropSchema(schema);
    });
    return Object.assign(db, { schema });
  },
};

export const DATABASES: readonly DatabaseFactory[] = [pglite, postgres];

/** `describe` once per database, the suite receiving the factory. */
export function describeEachDatabase(name: string, suite: (factory: DatabaseFactory) => void) {
  for (const factory of DATABASES) {
    describe(`${name} [${factory.kind}]`, () => suite(factory));
  }
}
