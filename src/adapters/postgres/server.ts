import pg from 'pg';
import { traceDatabase } from '../../observability/tracing.ts';
import type { Database, SqlExecutor } from '../../ports/database.ts';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

// Counts and offsets fit in a double long before they matter; returning numbers keeps the
// server adapter interchangeable with PGlite, which does the same.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/**
 * CREATE SCHEMA IF NOT EXISTS is not safe against a concurrent create (an API and workers
 * starting together): the loser gets a unique violation, which means the schema exists.
 */
async function createSchema(pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') {
      await pool.end();
      throw error;
    }
  }
}

export interface ServerOptions {
  url: string;
  schema: string;
  poolSize: number;
  applicationName?: string;
}

/** A PostgreSQL server through a node-postgres pool; every connection works in `schema`. */
export async function openPostgres(options: ServerOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    application_name: options.applicationName ?? 'herald',
    options: `-c search_path=${options.schema}`,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
    types,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  await createSchema(pool, options.schema);

  const executor = (target: pg.Pool | pg.PoolClient): SqlExecutor => ({
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      const result = await target.query(sql, params as unknown[]);
      return result.rows as Row[];
    },
  });

  return traceDatabase({
    kind: 'postgres',
    ...executor(pool),
    async transaction(work) {
      const client = await pool.connect();
      let broken = false;
      // A checked-out client has no pool listener: a connection lost between statements (the
      // server crashed or restarted) would be an unhandled 'error' event and kill the process.
      // The statement in flight fails on its own; the client is destroyed on release.
      const onLost = () => {
        broken = true;
      };
      client.on('error', onLost);
      try {
        await client.query('BEGIN');
        const result = await work(executor(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is destroyed rather than returned to the pool.
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.removeListener('error', onLost);
        client.release(broken);
      }
    },
    exec: async (sql) => {
      await pool.query(sql);
    },
    close: () => pool.end(),
  });
}
