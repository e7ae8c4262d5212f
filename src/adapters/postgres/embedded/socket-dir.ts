import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PostgreSQL's socket is `<dir>/.s.PGSQL.<port>`; the port only names the file here. */
export const SOCKET_PORT = 5432;

/**
 * The longest socket path the system takes: sockaddr_un.sun_path is 108 bytes on Linux and
 * 104 on macOS and the BSDs, the terminating NUL included.
 */
export function socketPathLimit(platform: string = process.platform): number {
  return platform === 'linux' ? 107 : 103;
}

export function socketPath(dir: string, port: number = SOCKET_PORT): string {
  return join(dir, `.s.PGSQL.${port}`);
}

/** Whether a server with its socket in `dir` can listen there. */
export function fitsSocketPath(dir: string, platform: string = process.platform): boolean {
  return Buffer.byteLength(socketPath(dir)) <= socketPathLimit(platform);
}

/**
 * Where the cluster listens: a unix socket in its own directory (no TCP port, nothing to
 * collide with, and only its OS user and root can connect), or, when that path is too long for
 * a socket (a deep DATA_DIR), in a fresh short directory under the temporary directory, made
 * private to the same user by the caller. `temporary` says whether the caller removes it.
 */
export async function chooseSocketDir(
  clusterDir: string,
  platform: string = process.platform,
): Promise<{ dir: string; temporary: boolean }> {
  if (fitsSocketPath(clusterDir, platform)) return { dir: clusterDir, temporary: false };
  for (const base of [tmpdir(), '/tmp']) {
    const candidate = await mkdtemp(join(base, 'herald-pg-'));
    if (fitsSocketPath(candidate, platform)) return { dir: candidate, temporary: true };
  }
  throw new Error(
    `no directory short enough for a unix socket (${socketPathLimit(platform)} bytes)`,
  );
}
