import {
  baseUrl,
  type ClientCommand,
  EXIT_FAILURE,
  EXIT_OK,
  intOption,
  parseCommand,
  requestJson,
  sleep,
  table,
  URL_HELP,
  UsageError,
} from './common.ts';

const help = `herald monitor: a live terminal view of a running Herald (from /metrics/summary)

Usage: herald monitor [--interval MS] [--once] [--json]

Shows events accepted, processed, failing and dead-lettered (totals and rates), the failure
rate, the queue depth and each partition's consumer lag. Quit with Ctrl-C.

Options:
  --interval MS        refresh period (default 1000)
  --once               print one frame and exit (for scripts and tests)
  --json               with --once: print the summary as JSON
${URL_HELP}
  -h, --help           show this help

Exit status: 0 ok, 1 the API could not be read (with --once), 2 bad usage.
`;

/** The fields of /metrics/summary the monitor shows. */
export interface Summary {
  accepted: number;
  processed: number;
  failed: number;
  dead_lettered: number;
  queue_depth: number;
  rates_per_second: { accepted: number; processed: number; dead_lettered: number };
  partitions: { partition: number; lag: number }[];
  broker: string;
  database: string;
  started_at: string;
}

/** One screen of the monitor, without terminal control codes. */
export function renderFrame(url: string, s: Summary, now = new Date()): string {
  const uptime = formatDuration(now.getTime() - Date.parse(s.started_at));
  const r = s.rates_per_second;
  const failureRate = r.accepted > 0 ? (100 * r.dead_lettered) / r.accepted : 0;
  const lag = s.partitions.map((p) => `${p.partition}:${p.lag}`).join(' ');
  const worst = s.partitions.reduce((max, p) => Math.max(max, p.lag), 0);
  return `herald monitor  ${url}  ${s.broker} broker · ${s.database} database · up ${uptime}  ${now.toISOString().slice(11, 19)}

${table([
  ['', 'total', 'per second'],
  ['accepted', String(s.accepted), r.accepted.toFixed(1)],
  ['processed', String(s.processed), r.processed.toFixed(1)],
  ['dead letters', String(s.dead_lettered), r.dead_lettered.toFixed(1)],
  ['failing (retrying)', String(s.failed), ''],
  ['failure rate', `${failureRate.toFixed(1)} %`, ''],
  ['queue depth', String(s.queue_depth), ''],
  ['max partition lag', String(worst), ''],
])}

lag by partition  ${lag || '(no partitions)'}
`;
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

/** `herald monitor`: the seeds' monitor script. */
export const monitorCommand: ClientCommand = {
  name: 'monitor',
  summary: 'live terminal view of rates, lag, failures and dead letters (--once for one frame)',
  help,
  async run(argv, io) {
    const parsed = parseCommand(argv, io, help, {
      interval: { type: 'string' },
      once: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (parsed === undefined) return EXIT_OK;
    const { values, positionals } = parsed;
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (values.json && !values.once) throw new UsageError('--json needs --once');
    const url = baseUrl(values.url, io.env, values['api-key']);
    const interval = intOption('interval', values.interval, 1000, 100, 3_600_000);
    if (values.once) {
      const { body } = await requestJson<Summary>(`${url}/metrics/summary`);
      io.stdout.write(values.json ? `${JSON.stringify(body)}\n` : renderFrame(url, body));
      return EXIT_OK;
    }

    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const tty = io.stdout.isTTY === true;
    try {
      while (!stop.signal.aborted) {
        let frame: string;
        try {
          const { body } = await requestJson<Summary>(`${url}/metrics/summary`, {
            signal: stop.signal,
          });
          frame = renderFrame(url, body);
        } catch (error) {
          if (stop.signal.aborted) break;
          frame = `herald monitor  ${url}\n\n  unreachable: ${(error as Error).message}\n`;
        }
        // On a terminal, redraw in place; piped, append frames separated by a blank line.
        io.stdout.write(tty ? `\x1b[H\x1b[2J${frame}` : `${frame}\n`);
        await sleep(interval, stop.signal);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return stop.signal.aborted ? EXIT_OK : EXIT_FAILURE;
  },
};
