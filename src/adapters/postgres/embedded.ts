import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ErrorCodes, HeraldError } from '../../errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Database } from '../../ports/database.ts';
import {
  findPostgresBinaries,
  type PostgresBinaries,
  reachableBinaries,
} from './embedded/binaries.ts';
import {
  type ClusterOptions,
  ensureDatabase,
  initCluster,
  type RunningCluster,
  startCluster,
} from './embedded/cluster.ts';
import {
  acquireDataDirLock,
  type DataDirLock,
  holderIsRunning,
  LOCK_FILE,
} from './embedded/lock.ts';
import {
  finishImport,
  finishMove,
  importPglite,
  logImport,
  moveAside,
  pgliteState,
} from './embedded/pglite-import.ts';
import { clearLeftoverServer } from './embedded/postmaster.ts';
import { chownTree, type RunAs, resolveRunAs, unreachableBy } from './embedded/run-as.ts';
import { serverSettings } from './embedded/server-settings.ts';
import { chooseSocketDir } from './embedded/socket-dir.ts';
import { openPostgres } from './server.ts';

export const IN_MEMORY = 'memory://';
const MEMORY_PREFIX = 'herald-memory-';

/** Where an embedded database keeps what, inside DATA_DIR. */
export function embeddedLayout(dataDir: string) {
  return {
    dataDir,
    lock: join(dataDir, LOCK_FILE),
    cluster: join(dataDir, 'postgres'),
    log: join(dataDir, 'postgres.log'),
  };
}

export interface EmbeddedOptions {
  /** DATA_DIR: a directory, or memory:// for a cluster in a fresh temporary directory. */
  dataDir: string;
  schema: string;
  poolSize: number;
  applicationName: string;
  /** EMBEDDED_DATABASE_USER: who runs the cluster when Herald is root. */
  user: string;
  logger: Logger;
  /** Server settings over serverSettings()'s (the test run's throwaway cluster). */
  settings?: Record<string, string>;
}

/** The embedded database, with the URL of its cluster (for other clients: the test run). */
export type EmbeddedDatabase = Database & { readonly url: string };

/**
 * The embedded default: a real PostgreSQL server that Herald runs itself, from the npm
 * package of binaries for this platform, reached through the same `pg` pool as a server
 * (openPostgres). DATA_DIR holds Herald's lock (one Herald per DATA_DIR), the cluster
 * (postgres/) and the server's log (postgres.log). Closing the database stops the server.
 *
 * A start after Herald was killed finds a stale postmaster.pid or an orphaned server and deals
 * with it; a first start over an earlier version's PGlite data imports it.
 */
export async function openEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { logger } = options;
  const began = Date.now();
  const runAs = resolveRunAs(options.user);
  const packaged = await findPostgresBinaries();
  const inMemory = options.dataDir.startsWith(IN_MEMORY);
  if (inMemory) await sweepAbandonedMemoryClusters(logger);
  const dataDir = inMemory
    ? await mkdtemp(join(tmpdir(), MEMORY_PREFIX))
    : resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const layout = embeddedLayout(dataDir);
  let lock: DataDirLock | undefined;
  let cluster: RunningCluster | undefined;
  let socket: { dir: string; temporary: boolean } | undefined;
  let binaries: PostgresBinaries | undefined;
  const cleanUp = async () => {
    await cluster?.stop().catch(() => {});
    if (socket?.temporary) await rm(socket.dir, { recursive: true, force: true });
    if (binaries?.copy !== undefined) await rm(binaries.copy, { recursive: true, force: true });
    await lock?.release();
    if (inMemory) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    binaries = await reachableBinaries(packaged, runAs);
    if (runAs !== undefined) await checkReachable(dataDir, binaries.postgres, runAs);
    lock = await acquireDataDirLock(dataDir);
    if (lock.tookOverFrom !== undefined) {
      logger.warn(
        { pid: lock.tookOverFrom.pid, lock: layout.lock },
        'the herald that held DATA_DIR before stopped without releasing it (killed or crashed); taking over',
      );
    }

    let importFrom: string | undefined;
    const previous = inMemory ? { kind: 'none' as const } : await pgliteState(dataDir);
    if (previous.kind === 'found') {
      logger.info(
        { dataDir },
        'DATA_DIR holds the previous version’s PGlite database: importing it',
      );
      importFrom = await moveAside(dataDir);
    } else if (previous.kind === 'interrupted') {
      logger.warn(
        { backup: previous.backupDir },
        'an import of the PGlite database was interrupted: starting it again',
      );
      await finishMove(dataDir, previous.backupDir);
      importFrom = previous.backupDir;
      await rm(layout.cluster, { recursive: true, force: true });
    }

    // A first start, or the first since an import began: initdb runs below.
    const fresh = !existsSync(join(layout.cluster, 'PG_VERSION'));
    if (fresh) {
      await refuseForeignDirectory(layout.cluster);
    } else {
      await checkOwnership(layout.cluster, runAs);
      const leftover = await clearLeftoverServer(layout.cluster);
      if (leftover.kind === 'stale') {
        logger.warn(
          { pid: leftover.pid },
          'removed the stale postmaster.pid a killed PostgreSQL left',
        );
      } else if (leftover.kind === 'orphan') {
        logger.warn(
          { pid: leftover.pid },
          'stopped the PostgreSQL server a killed herald left running (fast shutdown)',
        );
      }
    }
    socket = await chooseSocketDir(layout.cluster);
    if (socket.temporary) {
      await chmod(socket.dir, 0o700);
      if (runAs !== undefined) await chown(socket.dir, runAs.uid, runAs.gid);
    }
    const clusterOptions: ClusterOptions = {
      binaries,
      dir: layout.cluster,
      logFile: layout.log,
      socketDir: socket.dir,
      runAs,
      settings: {
        ...serverSettings({ poolSize: options.poolSize, durable: !inMemory }),
        ...options.settings,
      },
      durable: !inMemory,
    };
    if (fresh) await initCluster(clusterOptions);
    cluster = await startCluster(clusterOptions);
    await ensureDatabase(cluster);
    if (importFrom !== undefined) {
      const report = await importPglite(importFrom, { url: cluster.url(), schema: options.schema });
      await finishImport(dataDir);
      logImport(logger, report, importFrom);
    }
    const db = await openPostgres({
      url: cluster.url(),
      schema: options.schema,
      poolSize: options.poolSize,
      applicationName: options.applicationName,
    });
    logger.info(
      {
        dataDir: inMemory ? `${IN_MEMORY} (${dataDir}, removed at stop)` : dataDir,
        cluster: layout.cluster,
        log: layout.log,
        socket: socket.dir,
        pid: cluster.pid,
        initialised: fresh,
        ...(runAs === undefined ? {} : { runAs: runAs.name }),
        readyMs: Date.now() - began,
      },
      fresh ? 'embedded PostgreSQL created and started' : 'embedded PostgreSQL started',
    );
    const supervisor = superviseCluster(cluster, clusterOptions, logger);
    const url = cluster.url();
    let closed: Promise<void> | undefined;
    return {
      ...db,
      url,
      close: () => {
        closed ??= (async () => {
          try {
            await db.close();
          } finally {
            await supervisor.stop();
            cluster = undefined;
            await cleanUp();
          }
        })();
        return closed;
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

const RESTART_MS = { first: 500, max: 30_000 };

/**
 * Herald is its server's supervisor: a server that exits while Herald runs (killed, out of
 * memory) is started again, with backoff, on the same socket, so the pool reconnects and the
 * breakers and retries of the pipeline carry the work over the gap (WAL recovery keeps what was
 * committed). `stop()` stops whichever server runs at the time.
 */
function superviseCluster(
  first: RunningCluster,
  options: ClusterOptions,
  logger: Logger,
): { stop(): Promise<void> } {
  let current: RunningCluster = first;
  let stopping = false;
  let delay = RESTART_MS.first;
  let restarting: Promise<void> | undefined;
  // The wait before a restart, cut short by stop().
  let wake: () => void = () => {};
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const watch = (server: RunningCluster) => {
    void server.exited.then((how) => {
      if (stopping || server !== current) return;
      logger.error(
        { pid: server.pid, how, log: options.logFile, retryInMs: delay },
        'the embedded PostgreSQL server exited while Herald runs; starting it again',
      );
      restarting = restart();
    });
  };
  const restart = async (): Promise<void> => {
    while (!stopping) {
      await pause(delay);
      if (stopping) return;
      try {
        await clearLeftoverServer(options.dir);
        current = await startCluster(options);
        delay = RESTART_MS.first;
        logger.warn({ pid: current.pid }, 'embedded PostgreSQL started again');
        watch(current);
        return;
      } catch (error) {
        delay = Math.min(delay * 2, RESTART_MS.max);
        logger.error(
          { err: error, retryInMs: delay },
          'the embedded PostgreSQL did not start again',
        );
      }
    }
  };
  watch(first);
  return {
    async stop() {
      stopping = true;
      wake();
      await restarting;
      await current.stop();
    },
  };
}

/**
 * The server's user must reach its own directory and its programs. DATA_DIR is Herald's: that
 * user may pass through it (search only, no listing) whoever made it private; a directory on
 * the way that is closed to it (a checkout under /root) is refused with what to do.
 */
async function checkReachable(dataDir: string, postgres: string, runAs: RunAs): Promise<void> {
  if ((await unreachableBy(dataDir, runAs)) === dataDir) {
    await chmod(dataDir, ((await stat(dataDir)).mode & 0o7777) | 0o011);
  }
  for (const path of [dataDir, postgres]) {
    const blocked = await unreachableBy(path, runAs);
    if (blocked !== undefined) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `DATA_DIR: PostgreSQL runs as "${runAs.name}" (Herald runs as root), and ${blocked} is closed to that user, on the way to ${path}; put DATA_DIR and the checkout where "${runAs.name}" can reach them (e.g. not under /root), run herald as a non-root user, or set DATABASE_URL`,
        { details: { setting: 'DATA_DIR', blocked } },
      );
    }
  }
}

/**
 * initdb works in a staging directory, so a DATA_DIR/postgres without PG_VERSION is not
 * Herald's: an empty one (made by hand) is replaced, anything else is left alone.
 */
async function refuseForeignDirectory(clusterDir: string): Promise<void> {
  const entries = await readdir(clusterDir).catch(() => undefined);
  if (entries === undefined) return;
  if (entries.length > 0) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `DATA_DIR: ${clusterDir} exists but holds no PostgreSQL cluster (no PG_VERSION); Herald leaves it alone: move it away, or give Herald another DATA_DIR`,
      { details: { setting: 'DATA_DIR' } },
    );
  }
  await rm(clusterDir, { recursive: true, force: true });
}

/**
 * A cluster directory belongs to the user the server runs as: when Herald runs as root, one
 * left by another user (an earlier run as a normal user) is handed over; a normal user cannot
 * run a cluster someone else owns, which PostgreSQL would refuse with less explanation.
 */
async function checkOwnership(clusterDir: string, runAs: RunAs | undefined): Promise<void> {
  const owner = (await stat(clusterDir)).uid;
  if (runAs !== undefined) {
    if (owner !== runAs.uid) await chownTree(clusterDir, runAs.uid, runAs.gid);
    return;
  }
  const me = process.getuid?.();
  if (me !== undefined && owner !== me) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `DATA_DIR: ${clusterDir} belongs to uid ${owner}, not to this user (uid ${me}); run herald as that user (or as root), or give this one another DATA_DIR`,
      { details: { setting: 'DATA_DIR' } },
    );
  }
}

/**
 * memory:// clusters of Heralds that were killed: nothing will ever start on them again, so
 * their server is stopped and their directory removed by the next memory:// start.
 */
async function sweepAbandonedMemoryClusters(logger: Logger): Promise<void> {
  const base = tmpdir();
  const entries = await readdir(base).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith(MEMORY_PREFIX)) continue;
    const dir = join(base, entry);
    try {
      const holder = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'));
      if (holderIsRunning(holder)) continue;
    } catch {
      // No lock: being created right now, or its Herald died before taking it; leave it to an
      // older sweep unless it is clearly old.
      const age = Date.now() - (await stat(dir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age < 10 * 60_000) continue;
    }
    await clearLeftoverServer(join(dir, 'postgres')).catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    logger.info({ dir }, 'removed a memory:// cluster a killed herald left');
  }
}
