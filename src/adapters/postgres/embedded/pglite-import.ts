import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import type { Logger } from '../../../observability/logger.ts';
import { migrate } from '../migrate.ts';
import { openPostgres } from '../server.ts';

/**
 * The previous version of Herald kept its embedded database in PGlite, whose data directory
 * *is* DATA_DIR (PG_VERSION, base/, global/ … at its top). On the first start of this version
 * that data is imported into the new cluster and the old files are moved aside, so nothing is
 * lost and nothing is silently ignored.
 *
 * Crash-safe in three steps, each resumable: (1) a marker (pglite-import.json) names the backup
 * directory, then PGlite's files move into it; (2) while the marker exists the cluster is
 * (re)created and the data copied in one transaction; (3) the marker is removed. A start that
 * finds the marker starts again at the step it names.
 */
export const IMPORT_MARKER = 'pglite-import.json';

/** Entries of DATA_DIR that are Herald's own, never PGlite's. */
function isHeraldsOwn(name: string): boolean {
  return (
    name === 'postgres' ||
    name === 'postgres.log' ||
    name === IMPORT_MARKER ||
    name.startsWith('herald.lock') ||
    name.startsWith('pglite-backup-')
  );
}

export type PgliteState =
  | { kind: 'none' }
  /** PGlite's files are at the top of DATA_DIR: not imported yet. */
  | { kind: 'found' }
  /** An import began and did not finish; its backup directory. */
  | { kind: 'interrupted'; backupDir: string };

export async function pgliteState(dataDir: string): Promise<PgliteState> {
  try {
    const marker = JSON.parse(await readFile(join(dataDir, IMPORT_MARKER), 'utf8')) as {
      backup: string;
    };
    return { kind: 'interrupted', backupDir: join(dataDir, marker.backup) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return existsSync(join(dataDir, 'PG_VERSION')) ? { kind: 'found' } : { kind: 'none' };
}

async function openPgliteAt(dir: string) {
  // Loaded only here: PGlite is no longer a runtime database, only this importer's reader.
  const { PGlite } = await import('@electric-sql/pglite');
  const lite = new PGlite(dir);
  await lite.waitReady;
  return lite;
}

type Lite = Awaited<ReturnType<typeof openPgliteAt>>;

async function heraldVersion(lite: Lite): Promise<number | undefined> {
  const table = await lite.query<{ found: string | null }>(
    "SELECT to_regclass('public.herald_migrations')::text AS found",
  );
  if (table.rows[0]?.found == null) return undefined;
  const rows = await lite.query<{ version: number | null }>(
    'SELECT max(version) AS version FROM public.herald_migrations',
  );
  return rows.rows[0]?.version ?? undefined;
}

function notHeralds(dataDir: string, reason: string): HeraldError {
  return new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `DATA_DIR: ${dataDir} holds a PostgreSQL data directory that is not the embedded database of an earlier Herald (${reason}); Herald leaves it alone: point DATA_DIR at another directory`,
    { details: { setting: 'DATA_DIR' } },
  );
}

/**
 * Step 1: checks that the files at the top of DATA_DIR are an earlier Herald's PGlite database
 * (never moving anything else), then moves them into DATA_DIR/pglite-backup-<date>/.
 */
export async function moveAside(dataDir: string, now: Date = new Date()): Promise<string> {
  let lite: Lite | undefined;
  try {
    lite = await openPgliteAt(dataDir);
    if ((await heraldVersion(lite)) === undefined)
      throw notHeralds(dataDir, 'no herald_migrations table');
  } catch (error) {
    if (error instanceof HeraldError) throw error;
    throw notHeralds(dataDir, `PGlite cannot open it: ${(error as Error).message}`);
  } finally {
    await lite?.close().catch(() => {});
  }
  const backup = `pglite-backup-${now.toISOString().replace(/\..*$/, '').replaceAll(':', '')}`;
  await writeFile(join(dataDir, IMPORT_MARKER), `${JSON.stringify({ backup })}\n`);
  await finishMove(dataDir, join(dataDir, backup));
  return join(dataDir, backup);
}

/** Moves whatever of PGlite's files is still at the top of DATA_DIR into the backup. */
export async function finishMove(dataDir: string, backupDir: string): Promise<void> {
  await mkdir(backupDir, { recursive: true });
  for (const name of await readdir(dataDir)) {
    if (!isHeraldsOwn(name)) await rename(join(dataDir, name), join(backupDir, name));
  }
}

export interface ImportReport {
  tables: number;
  rows: number;
  /** Rows of raw_events: the events that were accepted. */
  events: number;
  fromVersion: number;
}

/**
 * Step 2: copies every table of Herald's schema from the PGlite database in `backupDir` into
 * `schema` of the server at `url`, in one transaction. The server is first migrated to the
 * version the PGlite database had (so both have the same tables and columns), then the tables
 * are emptied of what those migrations seeded and filled with COPY (foreign keys and triggers
 * off: session_replication_role = replica), and the sequences are set. The migrations PGlite
 * had not seen run afterwards, on the server, like any upgrade. The backup is only read.
 */
export async function importPglite(
  backupDir: string,
  target: { url: string; schema: string },
): Promise<ImportReport> {
  const lite = await openPgliteAt(backupDir);
  try {
    const fromVersion = await heraldVersion(lite);
    if (fromVersion === undefined) throw notHeralds(backupDir, 'no herald_migrations table');
    const server = await openPostgres({ url: target.url, schema: target.schema, poolSize: 2 });
    try {
      await migrate(server, { upTo: fromVersion });
    } finally {
      await server.close();
    }
    const tables = (
      await lite.query<{ name: string; columns: string[] }>(
        `SELECT c.relname AS name,
                array_agg(quote_ident(a.attname) ORDER BY a.attnum) AS columns
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                              AND a.attgenerated = ''
          WHERE n.nspname = 'public' AND c.relkind = 'r'
          GROUP BY c.relname ORDER BY c.relname`,
      )
    ).rows;
    const sequences = (
      await lite.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'S' ORDER BY 1`,
      )
    ).rows;
    const blockSize = Number(
      (await lite.query<{ size: string }>("SELECT current_setting('block_size') AS size")).rows[0]
        ?.size ?? 8192,
    );

    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    const { from: copyFrom } = await import('pg-copy-streams');
    let rows = 0;
    let events = 0;
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL session_replication_role = replica');
      await client.query(`SET LOCAL search_path = ${pg.escapeIdentifier(target.schema)}`);
      if (tables.length > 0) {
        await client.query(`TRUNCATE ${tables.map((t) => pg.escapeIdentifier(t.name)).join(', ')}`);
      }
      for (const table of tables) {
        const name = pg.escapeIdentifier(table.name);
        const columns = table.columns.join(', ');
        const pages = Number(
          (
            await lite.query<{ pages: number }>(
              `SELECT (pg_relation_size('public.${name}') / ${blockSize})::int AS pages`,
            )
          ).rows[0]?.pages ?? 0,
        );
        // A slice of pages at a time (a TID range scan), so a large table is never in memory
        // whole.
        const slice = 1024;
        for (let first = 0; first <= pages; first += slice) {
          const result = await lite.query(
            `COPY (SELECT ${columns} FROM public.${name}
                    WHERE ctid >= '(${first},0)'::tid AND ctid < '(${first + slice},0)'::tid)
               TO '/dev/blob'`,
          );
          const blob = result.blob;
          if (blob === undefined || blob.size === 0) continue;
          const text = Buffer.from(await blob.arrayBuffer());
          await pipeline(
            Readable.from([text]),
            client.query(copyFrom(`COPY ${name} (${columns}) FROM STDIN`)),
          );
        }
        const counted = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name}`);
        const n = counted.rows[0]?.n ?? 0;
        rows += n;
        if (table.name === 'raw_events') events = n;
      }
      for (const { name } of sequences) {
        const state = (
          await lite.query<{ last_value: number; is_called: boolean }>(
            `SELECT last_value, is_called FROM public.${pg.escapeIdentifier(name)}`,
          )
        ).rows[0];
        if (state === undefined) continue;
        await client.query('SELECT setval($1::regclass, $2, $3)', [
          `${pg.escapeIdentifier(target.schema)}.${pg.escapeIdentifier(name)}`,
          state.last_value,
          state.is_called,
        ]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      await client.end();
    }
    return { tables: tables.length, rows, events, fromVersion };
  } finally {
    await lite.close();
  }
}

/** Step 3: the import is done. */
export async function finishImport(dataDir: string): Promise<void> {
  await rm(join(dataDir, IMPORT_MARKER), { force: true });
}

export function logImport(logger: Logger, report: ImportReport, backupDir: string): void {
  logger.info(
    { ...report, backup: backupDir },
    `imported the previous version's embedded database (PGlite): ${report.events} events, ${report.rows} rows in ${report.tables} tables; its files are in ${backupDir} (delete them once you no longer need them)`,
  );
}
