import { readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import { commandLine, isAlive, isHeraldProcess, parentPid, waitForExit } from './processes.ts';

/**
 * What a cluster directory's postmaster.pid says about the server that wrote it:
 * - none: no server ran, or it stopped cleanly (the file is removed at a clean stop);
 * - stale: the server is gone (Herald and it were killed, the machine rebooted), or its pid
 *   now belongs to an unrelated process, which PostgreSQL itself would take for a running
 *   server and refuse to start;
 * - orphan: the server still runs, but the Herald that started it is dead;
 * - owned: the server runs under a live Herald (`owner`).
 */
export type PostmasterState =
  | { kind: 'none' }
  | { kind: 'stale'; pid: number }
  | { kind: 'orphan'; pid: number }
  | { kind: 'owned'; pid: number; owner: number };

export const POSTMASTER_PID = 'postmaster.pid';

export async function inspectPostmaster(clusterDir: string): Promise<PostmasterState> {
  let text: string;
  try {
    text = await readFile(join(clusterDir, POSTMASTER_PID), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw error;
  }
  // Line 1: the postmaster's pid; line 2: its data directory.
  const [pidLine = '', dirLine = ''] = text.split('\n');
  const pid = Number(pidLine.trim());
  if (!isAlive(pid) || !runsPostgresOn(pid, dirLine.trim() || clusterDir)) {
    return { kind: 'stale', pid };
  }
  const owner = parentPid(pid);
  if (owner !== undefined && owner > 1 && isAlive(owner) && isHeraldProcess(owner)) {
    return { kind: 'owned', pid, owner };
  }
  return { kind: 'orphan', pid };
}

/** Whether `pid` is a postgres server whose data directory is `dir`. */
function runsPostgresOn(pid: number, dir: string): boolean {
  const command = commandLine(pid);
  // Unreadable (another user's process without /proc access): assume it is, and let the
  // orphan handling or PostgreSQL's own check decide.
  if (command === undefined) return true;
  return /postgres/.test(command) && command.includes(resolve(dir));
}

/**
 * Makes the cluster directory ready for a normal start: removes a stale postmaster.pid and
 * stops an orphaned server (fast shutdown: open transactions roll back, committed ones are
 * kept; immediate shutdown if it does not stop in time). A server another Herald owns is
 * refused. Returns what it found.
 */
export async function clearLeftoverServer(
  clusterDir: string,
  options: { fastShutdownMs?: number } = {},
): Promise<PostmasterState> {
  const state = await inspectPostmaster(clusterDir);
  switch (state.kind) {
    case 'none':
      return state;
    case 'stale':
      await unlink(join(clusterDir, POSTMASTER_PID)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      return state;
    case 'owned':
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `DATA_DIR: the PostgreSQL server of ${clusterDir} (pid ${state.pid}) belongs to another herald (pid ${state.owner}); stop that one first, or give this one another DATA_DIR`,
        { details: { setting: 'DATA_DIR', pid: state.owner } },
      );
    case 'orphan': {
      process.kill(state.pid, 'SIGINT');
      if (await waitForExit(state.pid, options.fastShutdownMs ?? 30_000)) return state;
      process.kill(state.pid, 'SIGQUIT');
      if (await waitForExit(state.pid, 10_000)) return state;
      throw new HeraldError(
        ErrorCodes.DATABASE_UNAVAILABLE,
        `the orphaned PostgreSQL server of ${clusterDir} (pid ${state.pid}) did not stop; stop it and start again`,
        { details: { pid: state.pid } },
      );
    }
  }
}
