import { execFileSync } from 'node:child_process';
import { chown, lstat, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ErrorCodes, HeraldError } from '../../../errors.ts';

/** The unprivileged user the cluster runs as when Herald runs as root. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  /** Every group the user is in, for the permission checks. */
  groups: number[];
}

function idOf(name: string, flag: '-u' | '-g' | '-G'): string | undefined {
  try {
    return execFileSync('id', [flag, name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL refuses to run as root. Herald running as root runs the cluster as `name`
 * (EMBEDDED_DATABASE_USER); a user that does not exist is not created behind the operator's
 * back: the error says what to do. Undefined when Herald does not run as root.
 */
export function resolveRunAs(
  name: string,
  uid: number | undefined = process.getuid?.(),
): RunAs | undefined {
  if (uid !== 0) return undefined;
  const userId = idOf(name, '-u');
  const groupId = idOf(name, '-g');
  if (userId === undefined || groupId === undefined) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `EMBEDDED_DATABASE_USER: PostgreSQL refuses to run as root, and there is no user "${name}" to run the embedded database as; create one (useradd --system ${name}), set EMBEDDED_DATABASE_USER to an unprivileged user, run herald as a non-root user, or set DATABASE_URL`,
      { details: { setting: 'EMBEDDED_DATABASE_USER' } },
    );
  }
  if (Number(userId) === 0) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `EMBEDDED_DATABASE_USER: "${name}" is root, and PostgreSQL refuses to run as root; name an unprivileged user`,
      { details: { setting: 'EMBEDDED_DATABASE_USER' } },
    );
  }
  const groups = (idOf(name, '-G') ?? groupId).split(/\s+/).map(Number);
  return { name, uid: Number(userId), gid: Number(groupId), groups };
}

/**
 * The first directory on the way to `path` (itself included) that `user` cannot enter, or
 * undefined when it can reach it: PostgreSQL running as `user` must reach its binaries and its
 * data directory (a checkout under /root cannot be).
 */
export async function unreachableBy(path: string, user: RunAs): Promise<string | undefined> {
  let dir = resolve(path);
  const chain: string[] = [];
  for (;;) {
    chain.unshift(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const step of chain) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(step);
    } catch {
      return undefined; // not created yet: Herald creates it with the right owner
    }
    const mode = info.mode;
    const searchable =
      info.uid === user.uid
        ? (mode & 0o100) !== 0
        : user.groups.includes(info.gid)
          ? (mode & 0o010) !== 0
          : (mode & 0o001) !== 0;
    if (!searchable) return step;
  }
  return undefined;
}

/** chown -R, not following links (a cluster holds none of its own, but be safe). */
export async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  if (info.uid !== uid || info.gid !== gid) await chown(path, uid, gid);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path)) await chownTree(join(path, entry), uid, gid);
}
