import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from './platform.ts';

const HERALD = fileURLToPath(new URL('../../bin/herald.js', import.meta.url));

export interface HeraldProcess {
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  /** The API's URL once it listens (api/start only). */
  url: Promise<string>;
  /** What it wrote to stderr so far (the CLI's own error messages). */
  stderr(): string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | NodeJS.Signals>;
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
}

/**
 * Runs the real `herald` CLI as a child process; killed after the test if still running.
 * `nodeFlags` go to Node before the CLI (e.g. `--import` of a recording hook).
 */
export function runHerald(
  t: Cleanup,
  args: string[],
  env: Record<string, string>,
  options: { nodeFlags?: readonly string[] } = {},
): HeraldProcess {
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), HERALD, ...args], {
    // OPS_PORT 0: several workers run side by side, each on a free port of its own; READ_PORT
    // off: the tests of the read port turn it on, others would race for 8001. No shedding on
    // event-loop delay, as for in-process platforms (helpers/platform.ts): a loaded machine's
    // stall answers 503 by its timing, not by the behaviour a test checks; the overload tests
    // set it.
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      PORT: '0',
      OPS_PORT: '0',
      READ_PORT: 'off',
      OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let resolveUrl: (url: string) => void = () => {};
  let rejectUrl: (error: Error) => void = () => {};
  const url = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  url.catch(() => {});
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'api listening' && typeof entry.url === 'string') resolveUrl(entry.url);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.on('exit', (code, signal) => {
      rejectUrl(
        new Error(
          `herald ${args.join(' ')} exited (${code ?? signal}) before listening: ${stderr}`,
        ),
      );
      resolve(code ?? signal ?? 1);
    });
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  t.after(() => stop('SIGKILL'));
  return { child, logs, url, stderr: () => stderr, exited, stop };
}
