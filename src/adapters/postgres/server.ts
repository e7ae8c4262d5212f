import pg from 'pg';
import { traceDatabase } from '../../observability/tracing.ts';
import type { Database, SqlExecutor } from '../../ports/database.ts';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

// Counts and offsets fit in a double long before they matter; Herald's code reads them as
// numbers.
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
    listen: (channel, onNotify) => listen(options, channel, onNotify),
    close: () => pool.end(),
  });
}

const RELISTEN_MS = { first: 250, max: 5000 };

/**
 * LISTEN on a connection of its own (a pooled one would be handed to other queries and lose
 * the subscription). Deployments in other schemas of the same database notify the same
 * channel: the payload names the notifier's schema, and only ours wakes `onNotify`. A lost
 * connection is reopened with backoff; `onNotify` is called once it is back, since
 * notifications sent meanwhile were missed.
 */
async function listen(
  options: ServerOptions,
  channel: string,
  onNotify: () => void,
): Promise<() => Promise<void>> {
  let client: pg.Client | undefined;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = RELISTEN_MS.first;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({
      connectionString: options.url,
      application_name: `${options.applicationName ?? 'herald'}-listen`,
      connectionTimeoutMillis: 5000,
    });
    next.on('error', () => reconnect(next));
    next.on('end', () => reconnect(next));
    next.on('notification', (message) => {
      if (message.channel === channel && message.payload === options.schema) onNotify();
    });
    await next.connect();
    await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    if (stopped) {
      // Stopped while reconnecting: this connection would keep the process alive.
      await next.end();
      return;
    }
    client = next;
    delay = RELISTEN_MS.first;
  };

  const reconnect = (lost: pg.Client) => {
    if (stopped || client !== lost) return;
    client = undefined;
    lost.end().catch(() => {});
    schedule();
  };

  const schedule = () => {
    if (stopped || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect().then(onNotify, () => {
        delay = Math.min(delay * 2, RELISTEN_MS.max);
        schedule();
      });
    }, delay);
    retryTimer.unref();
  };

  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retryTimer);
    await client?.end().catch(() => {});
  };
}
