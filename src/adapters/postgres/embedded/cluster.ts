import { type ChildProcess, spawn } from 'node:child_process';
import { appendFile, chown, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import type { PostgresBinaries } from './binaries.ts';
import { waitForExit } from './processes.ts';
import type { RunAs } from './run-as.ts';
import { accessArguments, settingsFile } from './server-settings.ts';
import { SOCKET_PORT } from './socket-dir.ts';

/** The superuser initdb creates, and the database Herald keeps its tables in. */
export const CLUSTER_USER = 'herald';
export const CLUSTER_DATABASE = 'herald';

export interface ClusterOptions {
  binaries: PostgresBinaries;
  /** The cluster's data directory (DATA_DIR/postgres). */
  dir: string;
  /** Where the server's own log goes (appended). */
  logFile: string;
  socketDir: string;
  /** The OS user the server runs as when Herald is root. */
  runAs: RunAs | undefined;
  settings: Record<string, string>;
  /** False for a memory:// cluster, which keeps nothing: initdb skips its fsyncs. */
  durable: boolean;
}

export interface RunningCluster {
  pid: number;
  /** A connection URL (unix socket) for `database`. */
  url(database?: string): string;
  /** Fast shutdown, waiting until the server has exited. */
  stop(): Promise<void>;
  /** Resolves (with how) when the server has exited, stopped or not. */
  exited: Promise<string>;
}

/** The environment the server runs with: not Herald's, which may hold its secrets. */
function serverEnvironment(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' };
}

function identity(runAs: RunAs | undefined): { uid?: number; gid?: number } {
  return runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid };
}

async function logTail(logFile: string, lines = 15): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * A program that exists but cannot be run: most often a system without glibc (Alpine's musl),
 * which the packaged binaries are built for.
 */
function cannotRun(program: string, error: Error): HeraldError {
  return new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `DATABASE_URL: the embedded PostgreSQL cannot run here: ${program}: ${error.message} (its binaries need a glibc Linux or macOS); set DATABASE_URL to a PostgreSQL server`,
    { cause: error, details: { setting: 'DATABASE_URL' } },
  );
}

/** Runs a program to completion with its output appended to the log. */
async function run(program: string, args: string[], options: ClusterOptions): Promise<void> {
  const log = await open(options.logFile, 'a', 0o640);
  try {
    const child = spawn(program, args, {
      stdio: ['ignore', log.fd, log.fd],
      env: serverEnvironment(),
      ...identity(options.runAs),
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', (error) => reject(cannotRun(program, error)));
      child.once('exit', (exitCode) => resolve(exitCode));
    });
    if (code !== 0) {
      throw new HeraldError(
        ErrorCodes.DATABASE_UNAVAILABLE,
        `${program} failed (exit ${code}); the end of ${options.logFile}:\n${await logTail(options.logFile)}`,
      );
    }
  } finally {
    await log.close();
  }
}

/**
 * Creates the cluster: UTF-8, the builtin C.UTF-8 locale (the same on every machine, no OS
 * locale needed), connections only over the unix socket with trust (the socket directory is
 * private to the server's user), no TCP at all. initdb works in a staging directory renamed
 * into place when complete, so a Herald killed during it leaves no half-made cluster behind.
 */
export async function initCluster(options: ClusterOptions): Promise<void> {
  const staging = `${options.dir}.initdb`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { mode: 0o700 });
  if (options.runAs !== undefined) await chown(staging, options.runAs.uid, options.runAs.gid);
  await run(
    options.binaries.initdb,
    [
      `--pgdata=${staging}`,
      `--username=${CLUSTER_USER}`,
      '--auth-local=trust',
      '--auth-host=reject',
      '--encoding=UTF8',
      '--locale=C',
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
      '--no-instructions',
      ...(options.durable ? [] : ['--no-sync']),
    ],
    options,
  );
  // TCP stays off (listen_addresses is empty); should someone turn it on, nothing is trusted.
  await writeFile(join(staging, 'pg_hba.conf'), 'local all all trust\n');
  await appendFile(
    join(staging, 'postgresql.conf'),
    "\n# Herald's settings for one machine, rewritten at every start.\ninclude_if_exists = 'herald.conf'\n",
  );
  await rename(staging, options.dir);
}

/**
 * Starts the server and waits until it accepts connections (by connecting, not by reading its
 * log). It runs in its own process group, so a Ctrl-C in the terminal reaches Herald alone,
 * which stops it after its own graceful stop.
 */
export async function startCluster(
  options: ClusterOptions,
  timeoutMs = 120_000,
): Promise<RunningCluster> {
  await writeFile(join(options.dir, 'herald.conf'), settingsFile(options.settings));
  if (options.runAs !== undefined) {
    await chown(join(options.dir, 'herald.conf'), options.runAs.uid, options.runAs.gid);
  }
  const log = await open(options.logFile, 'a', 0o640);
  let child: ChildProcess;
  let spawned: Promise<Error | undefined>;
  try {
    child = spawn(
      options.binaries.postgres,
      ['-D', options.dir, ...accessArguments(options.socketDir, SOCKET_PORT)],
      {
        stdio: ['ignore', log.fd, log.fd],
        env: serverEnvironment(),
        detached: true,
        ...identity(options.runAs),
      },
    );
    // Listened to at once: 'spawn' comes on the next tick.
    spawned = new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
  } finally {
    await log.close();
  }
  let exited: string | undefined;
  const exitedPromise = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = code === null ? `killed by ${signal}` : `exit ${code}`;
      resolve(exited);
    });
  });
  const failed = await spawned;
  if (failed !== undefined || child.pid === undefined) {
    throw cannotRun(options.binaries.postgres, failed ?? new Error('no pid'));
  }
  // Herald's exit must not wait for the server: it stops it itself, or a later start does.
  child.unref();
  const pid = child.pid;
  const url = (database = CLUSTER_DATABASE) =>
    `postgresql://${CLUSTER_USER}@/${database}?host=${encodeURIComponent(options.socketDir)}&port=${SOCKET_PORT}`;
  const stop = async () => {
    if (exited !== undefined) return;
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      return; // already gone
    }
    if (await waitForExit(pid, 60_000)) return;
    process.kill(pid, 'SIGQUIT');
    await waitForExit(pid, 10_000);
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== undefined) {
      throw new HeraldError(
        ErrorCodes.DATABASE_UNAVAILABLE,
        `the embedded PostgreSQL server stopped while starting (${exited}); the end of ${options.logFile}:\n${await logTail(options.logFile)}`,
      );
    }
    const client = new pg.Client({
      connectionString: url('postgres'),
      connectionTimeoutMillis: 2000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return { pid, url, stop, exited: exitedPromise };
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() >= deadline) {
        await stop();
        throw new HeraldError(
          ErrorCodes.DATABASE_UNAVAILABLE,
          `the embedded PostgreSQL server did not accept connections within ${timeoutMs / 1000} s (${(error as Error).message}); see ${options.logFile}`,
          { cause: error },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Creates Herald's database on a fresh cluster (and on one a crash left without it). */
export async function ensureDatabase(cluster: RunningCluster): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.url('postgres') });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      CLUSTER_DATABASE,
    ]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${CLUSTER_DATABASE}`);
  } finally {
    await client.end();
  }
}
