/** The machine a run happened on, recorded with every result. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { POSTGRES_URL, withClient } from './postgres.ts';

export interface Machine {
  cpu_model: string;
  cores: number;
  ram_gib: number;
  node: string;
  postgres: string | undefined;
  redis: string | undefined;
  os: string;
  load_average_at_start: number[];
  /** The commit measured, "+dirty" when the working tree had uncommitted changes. */
  commit: string | undefined;
}

export async function describeMachine(): Promise<Machine> {
  const postgres = await withClient(async (c) => {
    const result = await c.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return result.rows[0]?.v;
  }).catch(() => undefined);
  let redis: string | undefined;
  try {
    const info = execFileSync('redis-cli', ['-h', '127.0.0.1', 'INFO', 'server'], {
      encoding: 'utf8',
      timeout: 3000,
    });
    redis = /redis_version:(\S+)/.exec(info)?.[1];
  } catch {
    redis = undefined;
  }
  let os: string = process.platform;
  try {
    os = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  } catch {}
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    });
    if (dirty.trim() !== '') commit += '+dirty';
  } catch {
    commit = undefined;
  }
  return {
    commit,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    ram_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    postgres,
    redis,
    os,
    load_average_at_start: loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

export { POSTGRES_URL };
