import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * What Herald needs to know about another process to judge a lock or a postmaster.pid it left:
 * is the pid alive, is it still the same process (a pid is reused after a crash and a reboot),
 * what runs there and who started it. Linux answers from /proc; elsewhere `ps` does.
 */

/** Whether a process with this pid exists (one of another user counts). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function ps(pid: number, field: string): string | undefined {
  try {
    const out = execFileSync('ps', ['-o', `${field}=`, '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return out === '' ? undefined : out;
  } catch {
    return undefined;
  }
}

const onLinux = process.platform === 'linux';

/**
 * An opaque token for when the process started: the same pid with another token is another
 * process. Undefined when the process does not exist.
 */
export function processStartTime(pid: number): string | undefined {
  if (onLinux) {
    // Field 22 of stat: start time in clock ticks since boot (the 20th after the name).
    const started = procStat(pid)?.[19];
    return started === undefined ? undefined : `boot+${started}`;
  }
  return ps(pid, 'lstart');
}

/** The parent's pid, or undefined when the process does not exist. */
export function parentPid(pid: number): number | undefined {
  const parent = onLinux ? procStat(pid)?.[1] : ps(pid, 'ppid');
  return parent === undefined ? undefined : Number(parent);
}

/** The command line, arguments joined by spaces; undefined when it cannot be read. */
export function commandLine(pid: number): string | undefined {
  if (onLinux) {
    try {
      const line = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      return line === '' ? undefined : line;
    } catch {
      return undefined;
    }
  }
  return ps(pid, 'command');
}

/**
 * Whether a live process runs Herald's CLI, by its entry point on the command line
 * (bin/herald.js, or src/cli/main.ts run directly), not by a directory name that happens to
 * say "herald".
 */
export function isHeraldProcess(pid: number): boolean {
  const command = commandLine(pid);
  return (
    command !== undefined && /(^|[\s/])(bin\/herald\.js|src\/cli\/main\.ts)(\s|$)/.test(command)
  );
}

/** Polls until the process is gone; false if it still runs after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}
