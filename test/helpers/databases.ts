/**
 * Runs a suite against both databases Herald supports, each test in a fresh schema (dropped
 * afterwards unless HERALD_KEEP_TEST_DATA is set, to look at what a failing test left):
 * - embedded: the PostgreSQL 17 Herald runs itself from its npm binaries. scripts/test.ts starts
 *   one such cluster for the whole run, with Herald's own manager, and passes its URL as
 *   TEST_EMBEDDED_DATABASE_URL;
 * - postgres: the machine's PostgreSQL server (TEST_DATABASE_URL).
 */
import { randomBytes } from 'node:crypto';
import { describe, type TestContext } from 'node:test';
import pg from 'pg';
import { migrate } from '../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../src/adapters/postgres/server.ts';
import type { Database } from '../../src/ports/database.ts';

export const POSTGRES_URL =
  process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

export type DatabaseKind = 'embedded' | 'postgres';

/** The URL of the run's managed cluster; a run without it fails with what to do. */
export function embeddedUrl(): string {
  const url = process.env.TEST_EMBEDDED_DATABASE_URL;
  if (url === undefined) {
    throw new Error(
      'TEST_EMBEDDED_DATABASE_URL is not set: run the tests through scripts/test.ts (npm run test:unit -- <files>), which starts the embedded PostgreSQL they use',
    );
  }
  return url;
}

export function databaseUrl(kind: DatabaseKind): string {
  return kind === 'embedded' ? embeddedUrl() : POSTGRES_URL;
}

export interface DatabaseFactory {
  kind: DatabaseKind;
  /** A migrated, empty database for one test; closed (and cleaned) after it. */
  open(t: TestContext, options?: { poolSize?: number }): Promise<Database & { schema: string }>;
}

export function uniqueSchema(prefix = 'herald_test'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/**
 * Drops a test's schema. A process of the test that is still winding down (a worker finishing a
 * batch, a child being killed) can hold locks the drop needs in the other order: Postgres breaks
 * that deadlock by failing one side, so the drop is retried rather than failing the test.
 */
export async function dropSchema(schema: string, url: string = POSTGRES_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url });
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

function factory(kind: DatabaseKind): DatabaseFactory {
  return {
    kind,
    async open(t, options = {}) {
      const url = databaseUrl(kind);
      const schema = uniqueSchema();
      const db = await openPostgres({ url, schema, poolSize: options.poolSize ?? 5 });
      await migrate(db);
      t.after(async () => {
        await db.close();
        if (process.env.HERALD_KEEP_TEST_DATA === undefined) await dropSchema(schema, url);
      });
      return Object.assign(db, { schema });
    },
  };
}

export const DATABASES: readonly DatabaseFactory[] = [factory('embedded'), factory('postgres')];

/** `describe` once per database, the suite receiving the factory. */
export function describeEachDatabase(name: string, suite: (factory: DatabaseFactory) => void) {
  for (const each of DATABASES) {
    describe(`${name} [${each.kind}]`, () => suite(each));
  }
}
