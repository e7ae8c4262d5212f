import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { traceDatabase } from '../../observability/tracing.ts';
import type { Database, SqlExecutor } from '../../ports/database.ts';

export const IN_MEMORY = 'memory://';

/**
 * The embedded default: Postgres compiled to WASM, running in this process, data in `dataDir`
 * (`memory://` keeps nothing, for tests and trials). PGlite has one connection and queues
 * queries itself; `transaction` holds it exclusively, so callers need no extra locking.
 */
export async function openPglite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith(IN_MEMORY);
  if (!inMemory) await mkdir(dataDir, { recursive: true });
  const db = inMemory ? new PGlite() : new PGlite(dataDir);
  await db.waitReady;

  const executor = (target: Pick<PGlite, 'query'>): SqlExecutor => ({
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      const result = await target.query<Row>(sql, params as unknown[]);
      return result.rows;
    },
  });

  return traceDatabase({
    kind: 'pglite',
    ...executor(db),
    transaction: (work) => db.transaction((tx) => work(executor(tx))),
    exec: async (sql) => {
      await db.exec(sql);
    },
    // One process, one schema: every notification on the channel is ours.
    listen: async (channel, onNotify) => {
      const unlisten = await db.listen(channel, () => onNotify());
      // Closing the database ends its subscriptions too.
      return async () => {
        if (!db.closed) await unlisten();
      };
    },
    close: () => db.close(),
  });
}
