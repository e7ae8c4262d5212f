/**
 * The load generator, run in its own process (bench/lib/load.ts starts it): reads a
 * LoadOptions JSON on stdin, drives autocannon, prints one LoadResult JSON line. Latencies of
 * 2xx answers go to an HDR histogram in microseconds, for p95 (autocannon reports p97.5).
 */
import autocannon from 'autocannon';
import hdr from 'hdr-histogram-js';
import type { LoadOptions, LoadResult } from './load.ts';

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

const options = JSON.parse(await readStdin()) as LoadOptions;
const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000 });
const started = performance.now();
const startedAt = Date.now();
const instance = autocannon(
  {
    url: options.url,
    method: 'POST',
    body: options.body,
    headers: { 'content-type': 'application/json', ...options.headers },
    // autocannon refuses more connections than requests.
    connections: Math.min(options.connections, options.amount ?? Number.POSITIVE_INFINITY),
    ...(options.amount === undefined
      ? { duration: options.durationS }
      : { amount: options.amount }),
    ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
    timeout: options.timeoutS ?? 30,
  },
  (error, result) => {
    if (error) {
      process.stderr.write(`${error.stack ?? error.message}\n`);
      process.exit(1);
    }
    const seconds = (performance.now() - started) / 1000;
    const ms = (p: number) => Math.round(histogram.getValueAtPercentile(p) / 10) / 100;
    const statusCodes: Record<string, number> = {};
    for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
      statusCodes[code] = stat.count;
    }
    const out: LoadResult = {
      requests: result.requests.total,
      ok: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      duration_s: Math.round(seconds * 1000) / 1000,
      started_at_ms: startedAt,
      ok_per_s: Math.round((result['2xx'] / seconds) * 10) / 10,
      latency_ms: {
        p50: ms(50),
        p95: ms(95),
        p99: ms(99),
        max: Math.round(histogram.maxValue / 10) / 100,
        mean: Math.round(histogram.mean / 10) / 100,
      },
      status_codes: statusCodes,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(0);
  },
);
instance.on('response', (_client: unknown, status: number, _bytes: number, timeMs: number) => {
  if (status >= 200 && status < 300) histogram.recordValue(Math.max(1, Math.round(timeMs * 1000)));
});
