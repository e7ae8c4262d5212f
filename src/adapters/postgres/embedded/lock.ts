import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import { isAlive, processStartTime } from './processes.ts';

export const LOCK_FILE = 'herald.lock';

/** Who holds a data directory: written to DATA_DIR/herald.lock by the Herald that owns it. */
export interface LockHolder {
  pid: number;
  /** processStartTime() of the holder, so that a reused pid is not taken for it. */
  startedAt: string | undefined;
  hostname: string;
}

export interface DataDirLock {
  /** The lock a Herald that died without releasing it left, if this one took it over. */
  readonly tookOverFrom: LockHolder | undefined;
  release(): Promise<void>;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.hostname !== 'string') return undefined;
    return {
      pid: value.pid,
      startedAt: typeof value.startedAt === 'string' ? value.startedAt : undefined,
      hostname: value.hostname,
    };
  } catch {
    return undefined;
  }
}

async function readHolder(
  path: string,
): Promise<{ text: string; holder: LockHolder | undefined } | undefined> {
  try {
    const text = await readFile(path, 'utf8');
    return { text, holder: parseHolder(text) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Whether the recorded holder still runs. A holder on another host cannot be checked from
 * here (a data directory on a shared disk), so it counts as running.
 */
export function holderIsRunning(holder: LockHolder, here: string = hostname()): boolean {
  if (holder.hostname !== here) return true;
  if (!isAlive(holder.pid)) return false;
  return holder.startedAt === undefined || processStartTime(holder.pid) === holder.startedAt;
}

function inUse(dataDir: string, holder: LockHolder): HeraldError {
  const where =
    holder.hostname === hostname()
      ? `pid ${holder.pid}`
      : `pid ${holder.pid} on ${holder.hostname}`;
  return new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `DATA_DIR: ${dataDir} is in use by another herald (${where}); one process owns an embedded database: stop that one first, or give this one another DATA_DIR`,
    { details: { setting: 'DATA_DIR', pid: holder.pid, hostname: holder.hostname } },
  );
}

/**
 * Takes DATA_DIR for this process, or refuses with the holder's pid. A lock whose holder has
 * died (SIGKILL, a crash, a reboot) is taken over: moved aside with a rename, which only one of
 * two Heralds starting at once can do.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const path = join(dataDir, LOCK_FILE);
  const mine: LockHolder = {
    pid: process.pid,
    startedAt: processStartTime(process.pid),
    hostname: hostname(),
  };
  const text = `${JSON.stringify(mine)}\n`;
  let tookOverFrom: LockHolder | undefined;
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      await writeFile(path, text, { flag: 'wx', mode: 0o644 });
      return {
        tookOverFrom,
        async release() {
          // Only our own: never a lock another process took over meanwhile.
          const current = await readHolder(path).catch(() => undefined);
          if (current?.text === text) await unlink(path).catch(() => {});
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const found = await readHolder(path);
    if (found === undefined) continue; // released meanwhile
    // An unreadable lock is what a crash in the middle of writing one leaves.
    if (found.holder !== undefined && holderIsRunning(found.holder))
      throw inUse(dataDir, found.holder);
    const aside = `${path}.stale-${process.pid}`;
    try {
      await rename(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // another took it over
      throw error;
    }
    const moved = await readHolder(aside);
    if (moved !== undefined && moved.text !== found.text) {
      // A Herald starting at the same moment took the stale lock over between our read and the
      // rename: this is its fresh lock; give it back and look again.
      await rename(aside, path).catch(() => {});
      continue;
    }
    await unlink(aside).catch(() => {});
    tookOverFrom = found.holder;
  }
  throw new HeraldError(ErrorCodes.CONFIG_INVALID, `DATA_DIR: could not take ${path}`, {
    details: { setting: 'DATA_DIR' },
  });
}
