import hdr from 'hdr-histogram-js';
import {
  authHeaders,
  baseUrl,
  type ClientCommand,
  choiceOption,
  EXIT_FAILURE,
  EXIT_OK,
  intOption,
  numberOption,
  parseCommand,
  URL_HELP,
  UsageError,
} from './common.ts';
import { EVENT_KINDS, eventGenerator } from './generate.ts';
import { runPaced } from './pacing.ts';

const help = `herald load-test: offered-rate load against a running Herald, with an HDR latency report

Usage: herald load-test [--events N] [--rate R] [--concurrency C] [--json] [options]

Open loop: event i is sent at i/R seconds whether or not earlier requests were answered, so a
slow server shows up as latency (measured from when each request was due), not as a lower
offered rate. At most C requests are in flight; the rest wait, and that wait counts too.

Options:
  --events N           events to send (default 1000)
  --rate R             offered events per second; 0 = as fast as C allows (default 100)
  --concurrency C      requests in flight at most (default 64)
  --type T             analytics | chemical | events | mixed (default mixed)
  --json               print the report as one JSON object (for scripts and CI)
  --seed N             seed of the event generator
${URL_HELP}
  -h, --help           show this help

Exit status: 0 when every request got 202, 1 when any failed, 2 bad usage.
`;

export interface LoadTestReport {
  url: string;
  type: string;
  events: number;
  offered_rate: number;
  concurrency: number;
  sent: number;
  ok: number;
  errors: number;
  errors_by_kind: Record<string, number>;
  duration_s: number;
  throughput_per_s: number;
  latency_ms: { p50: number; p90: number; p95: number; p99: number; p999: number; max: number };
}

/** `herald load-test`: the seeds' load-test script, with an HDR histogram. */
export const loadTestCommand: ClientCommand = {
  name: 'load-test',
  summary: 'offered-rate load with an HDR latency report (--events N --rate R --concurrency C)',
  help,
  async run(argv, io) {
    const parsed = parseCommand(argv, io, help, {
      events: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
      type: { type: 'string' },
      json: { type: 'boolean' },
      seed: { type: 'string' },
    });
    if (parsed === undefined) return EXIT_OK;
    const { values, positionals } = parsed;
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const url = baseUrl(values.url, io.env, values['api-key']);
    const events = intOption('events', values.events, 1000, 1);
    const rate = numberOption('rate', values.rate, 100);
    const concurrency = intOption('concurrency', values.concurrency, 64, 1, 10000);
    const kind = choiceOption('type', values.type, EVENT_KINDS, 'mixed');
    const generate = eventGenerator({
      kind,
      seed: intOption('seed', values.seed, Date.now() % 2 ** 31),
    });

    // Microseconds, 3 significant digits, up to an hour.
    const histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
    });
    let ok = 0;
    const errorsByKind: Record<string, number> = {};
    const started = Date.now();
    const progressOn = (io.stderr as { isTTY?: boolean }).isTTY === true && !values.json;
    const progress = () => {
      const done = ok + Object.values(errorsByKind).reduce((a, b) => a + b, 0);
      const width = 30;
      const filled = Math.round((done / events) * width);
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      io.stderr.write(
        `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${events}  ` +
          `${(ok / seconds).toFixed(1)}/s  p99 ${(histogram.getValueAtPercentile(99) / 1000).toFixed(1)} ms  ` +
          `errors ${done - ok}   `,
      );
    };
    const ticker = progressOn ? setInterval(progress, 200) : undefined;

    let sent = 0;
    try {
      ({ started: sent } = await runPaced({
        count: events,
        rate,
        concurrency,
        async send(i, scheduledAt) {
          const event = generate(i);
          let kindOfError: string | undefined;
          try {
            const response = await fetch(url + event.path, {
              method: 'POST',
              headers: { ...authHeaders(), 'content-type': 'application/json' },
              body: JSON.stringify(event.body),
            });
            await response.arrayBuffer();
            if (response.status !== 202) kindOfError = `http_${response.status}`;
          } catch (error) {
            const cause = (error as { cause?: { code?: string; message?: string } }).cause;
            kindOfError = cause?.code ?? cause?.message ?? 'network';
          }
          histogram.recordValue(Math.max(1, Math.round((Date.now() - scheduledAt) * 1000)));
          if (kindOfError === undefined) ok++;
          else errorsByKind[kindOfError] = (errorsByKind[kindOfError] ?? 0) + 1;
        },
      }));
    } finally {
      if (ticker !== undefined) {
        clearInterval(ticker);
        progress();
        io.stderr.write('\n');
      }
    }
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    // Percentiles are reported as their bucket's upper edge; never above the true maximum.
    const ms = (percentile: number) =>
      Math.round(Math.min(histogram.getValueAtPercentile(percentile), histogram.maxValue) / 10) /
      100;
    const errors = sent - ok;
    const report: LoadTestReport = {
      url,
      type: kind,
      events,
      offered_rate: rate,
      concurrency,
      sent,
      ok,
      errors,
      errors_by_kind: errorsByKind,
      duration_s: Math.round(seconds * 1000) / 1000,
      throughput_per_s: Math.round((ok / seconds) * 10) / 10,
      latency_ms: {
        p50: ms(50),
        p90: ms(90),
        p95: ms(95),
        p99: ms(99),
        p999: ms(99.9),
        max: Math.round(histogram.maxValue / 10) / 100,
      },
    };
    io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatReport(report));
    return errors === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};

function formatReport(r: LoadTestReport): string {
  const l = r.latency_ms;
  const errors = Object.entries(r.errors_by_kind)
    .map(([kind, n]) => `${kind}: ${n}`)
    .join(', ');
  return `load test against ${r.url} (${r.type} events)
  offered     ${r.events} events at ${r.offered_rate === 0 ? 'max' : `${r.offered_rate}/s`}, concurrency ${r.concurrency}
  sent        ${r.sent} in ${r.duration_s} s
  accepted    ${r.ok} (${r.throughput_per_s}/s)
  errors      ${r.errors}${errors ? ` (${errors})` : ''}
  latency ms  p50 ${l.p50}  p90 ${l.p90}  p95 ${l.p95}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}
`;
}
