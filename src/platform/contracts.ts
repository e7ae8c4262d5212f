/**
 * The event contracts' part of the start: this process's view of the registered schemas (both
 * roles: the API checks events at ingest, the worker at processing), and the registry that
 * changes them (API role).
 */
import { PostgresSchemaRegistryStore } from '../adapters/store/postgres/schema-registry.ts';
import { SchemaCatalog } from '../app/schemas/catalog.ts';
import type { SchemaRegistry } from '../app/schemas/registry.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Database } from '../ports/database.ts';
import type { Stops } from './stops.ts';

/** Loads the catalog and keeps it current (LISTEN/NOTIFY, and a poll every SCHEMAS_POLL_MS). */
export async function startSchemaCatalog(
  config: Config,
  db: Database,
  logger: Logger,
  stops: Stops,
): Promise<SchemaCatalog> {
  const catalog = new SchemaCatalog(new PostgresSchemaRegistryStore(db), logger, {
    pollMs: config.schemasPollMs,
  });
  await catalog.refresh();
  await catalog.start(db);
  stops.add('schema catalog', () => catalog.stop());
  return catalog;
}

/** The registry (API role); each committed change wakes `onEvent` (the outbox relay). */
export async function schemaRegistry(
  db: Database,
  catalog: SchemaCatalog,
  logger: Logger,
  onEvent: () => void,
): Promise<SchemaRegistry> {
  const [{ SchemaRegistry }, { contractCompiler }] = await Promise.all([
    import('../app/schemas/registry.ts'),
    import('../app/schemas/compiler.ts'),
  ]);
  return new SchemaRegistry(
    new PostgresSchemaRegistryStore(db),
    catalog,
    contractCompiler(),
    logger,
    {
      onEvent,
    },
  );
}
