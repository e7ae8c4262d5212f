/**
 * Servers under test run in child processes, so the load generator never shares their event
 * loop. Every child started here is remembered and killed (by pid) if the harness exits early.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HERALD = fileURLToPath(new URL('../../bin/herald.js', import.meta.url));

const running = new Set<ChildProcess>();

function killAll(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
process.on('exit', killAll);

export interface Service {
  name: string;
  pid: number;
  /** Where it listens (HTTP servers only). */
  url: string | undefined;
  /** The line that said it was ready (peers report figures in it). */
  readyLine: Record<string, unknown>;
  /** The last lines it printed (stdout and stderr), for error messages. */
  tail(): string;
  /** Resident set size now, in MiB (from /proc/<pid>/status VmRSS); undefined once exited. */
  rssMiB(): number | undefined;
  /** Graceful stop (SIGTERM, so a --cpu-prof profile gets written), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

interface ReadyLine {
  url?: string;
}

/**
 * Spawns `args` under this Node and waits until `isReady` accepts one of its stdout lines
 * (parsed as JSON when it is JSON). Fails with the child's output if it exits first.
 */
export function spawnService(
  name: string,
  args: string[],
  env: Record<string, string>,
  isReady: (line: Record<string, unknown>) => ReadyLine | undefined,
  options: { nodeFlags?: string[]; timeoutMs?: number } = {},
): Promise<Service> {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: string[] = [];
  const remember = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => {
      running.delete(child);
      resolve();
    });
  });
  const service: Service = {
    name,
    pid: child.pid ?? -1,
    url: undefined,
    readyLine: {},
    tail: () => lines.join('\n'),
    rssMiB: () => readRssMiB(child.pid ?? -1),
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      if (ready) return;
      child.kill('SIGKILL');
      reject(
        new Error(
          `${name} was not ready after ${options.timeoutMs ?? 60_000} ms:\n${service.tail()}`,
        ),
      );
    }, options.timeoutMs ?? 60_000);
    let buffered = '';
    // Keep draining stdout for the child's whole life: a full pipe would block its logging.
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        remember(line);
        if (ready) continue;
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        const found = isReady(parsed);
        if (found !== undefined) {
          ready = true;
          clearTimeout(timer);
          service.url = found.url;
          service.readyLine = parsed;
          resolve(service);
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line !== '') remember(line);
    });
    void exited.then(() => {
      if (ready) return;
      clearTimeout(timer);
      reject(
        new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${service.tail()}`),
      );
    });
  });
}

export type HeraldCommand = 'start' | 'api' | 'worker';

/**
 * Runs `herald <command>` (the real CLI) with `env`; resolves once it listens / consumes.
 * `bin` runs another checkout's CLI (an A/B against a baseline in the same run).
 */
export function startHerald(
  command: HeraldCommand,
  env: Record<string, string>,
  options: { name?: string; cpuProfDir?: string; bin?: string } = {},
): Promise<Service> {
  const nodeFlags =
    options.cpuProfDir === undefined
      ? []
      : [
          '--cpu-prof',
          '--cpu-prof-dir',
          options.cpuProfDir,
          '--cpu-prof-name',
          `${options.name ?? command}.${Date.now()}.cpuprofile`,
        ];
  return spawnService(
    options.name ?? `herald ${command}`,
    [options.bin ?? HERALD, command],
    { PORT: '0', OPS_PORT: '0', LOG_LEVEL: 'info', ...env },
    (line) => {
      if (command !== 'worker' && line.msg === 'api listening' && typeof line.url === 'string') {
        return { url: line.url };
      }
      if (command === 'worker' && line.msg === 'worker started') return {};
      return undefined;
    },
    { nodeFlags },
  );
}

/** Runs a bench peer script (bench/peers/*.ts) that prints `{"ready": true, "url"?: ...}`. */
export function startPeer(
  name: string,
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
  options: { timeoutMs?: number } = {},
): Promise<Service> {
  return spawnService(
    name,
    [fileURLToPath(new URL(`../peers/${script}`, import.meta.url)), ...args],
    env,
    (line) =>
      line.ready === true
        ? { url: typeof line.url === 'string' ? line.url : undefined }
        : undefined,
    options,
  );
}

export function readRssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

/**
 * Proportional set size, in MiB (from /proc/<pid>/smaps_rollup): shared pages divided among
 * the processes that map them, so a sum over processes counts shared memory once.
 */
export function readPssMiB(pid: number): number | undefined {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+)\s+kB/m.exec(rollup);
    return match?.[1] === undefined ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

/** Samples the RSS of services every `everyMs` until stopped: peak and mean per service. */
export function sampleRss(services: readonly Pick<Service, 'name' | 'rssMiB'>[], everyMs = 250) {
  const samples = new Map<string, number[]>(services.map((s) => [s.name, []]));
  const take = () => {
    for (const s of services) {
      const rss = s.rssMiB();
      if (rss !== undefined) samples.get(s.name)?.push(rss);
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop(): Record<string, { peak_mib: number; mean_mib: number; samples: number }> {
      clearInterval(timer);
      take();
      const out: Record<string, { peak_mib: number; mean_mib: number; samples: number }> = {};
      for (const [name, values] of samples) {
        if (values.length === 0) continue;
        out[name] = {
          peak_mib: round1(Math.max(...values)),
          mean_mib: round1(values.reduce((a, b) => a + b, 0) / values.length),
          samples: values.length,
        };
      }
      return out;
    },
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
