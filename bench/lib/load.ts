/** Runs the HTTP load generator (autocannon) in its own process and returns its figures. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface LoadOptions {
  url: string;
  /** The request body, sent as application/json on every request. */
  body: string;
  headers?: Record<string, string>;
  connections: number;
  /** Either a duration or a number of requests. */
  durationS?: number;
  amount?: number;
  /** Requests per second over all connections (offered rate); unset = as fast as possible. */
  overallRate?: number;
  timeoutS?: number;
}

export interface LoadResult {
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  duration_s: number;
  /** When the first request went out (Date.now() in the load generator's process). */
  started_at_ms: number;
  /** 2xx answers per second. */
  ok_per_s: number;
  /** Of 2xx answers, from the client's side. */
  latency_ms: { p50: number; p95: number; p99: number; max: number; mean: number };
  status_codes: Record<string, number>;
}

const CHILD = fileURLToPath(new URL('./load-child.ts', import.meta.url));

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('exit', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || line === '') {
        reject(new Error(`load generator failed (${code}): ${stderr.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line) as LoadResult);
    });
    child.stdin.end(JSON.stringify(options));
  });
}
