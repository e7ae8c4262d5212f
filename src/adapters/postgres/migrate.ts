import { readdir, readFile } from 'node:fs/promises';
import type { Database } from '../../ports/database.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
// Any constant works; it only has to be the same for every Herald process on one database.
const MIGRATION_LOCK_KEY = 727_274_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: await readFile(new URL(file, MIGRATIONS_DIR), 'utf8'),
    })),
  );
}

/**
 * Applies the migrations this database has not seen, each in its own transaction, under an
 * advisory lock so that an API and several workers starting together migrate once.
 * Returns the versions it applied. `upTo` stops after that version (the PGlite import brings a
 * new cluster to the version of the data it copies first).
 */
export async function migrate(db: Database, options: { upTo?: number } = {}): Promise<number[]> {
  const migrations = (await loadMigrations()).filter(
    (m) => options.upTo === undefined || m.version <= options.upTo,
  );
  const applied: number[] = [];
  for (const migration of migrations) {
    const ran = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      // Created under the lock: two processes racing on CREATE TABLE IF NOT EXISTS can collide.
      await tx.query(`CREATE TABLE IF NOT EXISTS herald_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const seen = await tx.query('SELECT 1 FROM herald_migrations WHERE version = $1', [
        migration.version,
      ]);
      if (seen.length > 0) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO herald_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (ran) applied.push(migration.version);
  }
  return applied;
}

/**
 * Splits a migration file on `;` at line ends, except inside a dollar-quoted function body
 * (`$$ … $$`), whose statements belong to the function; comment lines are dropped.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  let inBody = false;
  for (const line of sql.split('\n')) {
    if (!inBody && line.trimStart().startsWith('--')) continue;
    current.push(line);
    // An odd number of `$$` on a line opens or closes a body.
    if ((line.match(/\$\$/g)?.length ?? 0) % 2 === 1) inBody = !inBody;
    if (!inBody && /;\s*$/.test(line)) {
      statements.push(current.join('\n').replace(/;\s*$/, ''));
      current = [];
    }
  }
  statements.push(current.join('\n'));
  return statements.map((s) => s.trim()).filter((s) => s.length > 0);
}
