/**
 * The embedded database of the previous version of Herald, as it was (src/adapters/postgres/
 * pglite.ts before issue #18): PGlite with DATA_DIR as its data directory. The tests write a
 * data directory with it the way that version did, to check that this one imports it.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Database, SqlExecutor } from '../../src/ports/database.ts';

export async function openPreviousPglite(dataDir: string): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  const db = new PGlite(dataDir);
  await db.waitReady;
  const executor = (target: Pick<PGlite, 'query'>): SqlExecutor => ({
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      const result = await target.query<Row>(sql, params as unknown[]);
      return result.rows;
    },
  });
  return {
    kind: 'postgres',
    ...executor(db),
    transaction: (work) => db.transaction((tx) => work(executor(tx))),
    exec: async (sql) => {
      await db.exec(sql);
    },
    listen: async (channel, onNotify) => {
      const unlisten = await db.listen(channel, () => onNotify());
      return async () => {
        if (!db.closed) await unlisten();
      };
    },
    close: () => db.close(),
  };
}
