import { migrate } from '../adapters/postgres/migrate.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Database } from '../ports/database.ts';

/**
 * The database: the PostgreSQL server at DATABASE_URL, or, without one, a PostgreSQL Herald
 * runs itself in DATA_DIR (src/adapters/postgres/embedded.ts). Both are the same `pg` pool.
 */
export async function openDatabase(
  config: Config,
  role: string,
  logger: Logger,
): Promise<Database> {
  if (config.databaseUrl === undefined) {
    const { openEmbeddedPostgres } = await import('../adapters/postgres/embedded.ts');
    return openEmbeddedPostgres({
      dataDir: config.dataDir,
      schema: config.databaseSchema,
      poolSize: config.databasePoolSize,
      applicationName: `herald-${role}`,
      user: config.embeddedDatabaseUser,
      logger,
    });
  }
  const { openPostgres } = await import('../adapters/postgres/server.ts');
  return openPostgres({
    url: config.databaseUrl,
    schema: config.databaseSchema,
    poolSize: config.databasePoolSize,
    applicationName: `herald-${role}`,
  });
}

/** Brings the database's schema up to date (`herald migrate`, and the start of every role). */
export function migrateDatabase(db: Database): Promise<number[]> {
  return migrate(db);
}
