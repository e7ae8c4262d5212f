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

const help = `herald produce: send realistic seed-shaped events to a running Herald

Usage: herald produce [--count N] [--rate R] [--type T] [options]

Options:
  --count N            events to send (default 100)
  --rate R             events per second; 0 = as fast as possible (default 0)
  --type T             analytics | chemical | events | mixed (default mixed)
  --invalid-ratio F    fraction 0..1 of events sent as chemicals with an impossible formula,
                       which workers dead-letter (default 0)
  --users N            distinct users the events spread over (default 100)
  --concurrency C      requests in flight at most (default 8)
  --id-prefix P        give events the ids P-0, P-1 ... (default: the API generates ids)
  --seed N             seed of the event generator, to repeat a run
  --print-ids          print each accepted event id on its own line
${URL_HELP}
  -h, --help           show this help

Exit status: 0 when every event was accepted, 1 when any was refused or failed, 2 bad usage.
`;

/** `herald produce`: the seeds' producer script. */
export const produceCommand: ClientCommand = {
  name: 'produce',
  summary: 'send realistic seed-shaped events (--count N --rate R --type T)',
  help,
  async run(argv, io) {
    const parsed = parseCommand(argv, io, help, {
      count: { type: 'string' },
      rate: { type: 'string' },
      type: { type: 'string' },
      'invalid-ratio': { type: 'string' },
      users: { type: 'string' },
      concurrency: { type: 'string' },
      'id-prefix': { type: 'string' },
      seed: { type: 'string' },
      'print-ids': { type: 'boolean' },
    });
    if (parsed === undefined) return EXIT_OK;
    const { values, positionals } = parsed;
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const url = baseUrl(values.url, io.env, values['api-key']);
    const count = intOption('count', values.count, 100, 1);
    const rate = numberOption('rate', values.rate, 0);
    const kind = choiceOption('type', values.type, EVENT_KINDS, 'mixed');
    const invalidRatio = numberOption('invalid-ratio', values['invalid-ratio'], 0);
    if (invalidRatio > 1) throw new UsageError('--invalid-ratio: must be between 0 and 1');
    const concurrency = intOption('concurrency', values.concurrency, 8, 1, 1024);
    const generate = eventGenerator({
      kind,
      invalidRatio,
      users: intOption('users', values.users, 100, 1),
      seed: intOption('seed', values.seed, Date.now() % 2 ** 31),
      ...(values['id-prefix'] === undefined ? {} : { idPrefix: values['id-prefix'] }),
    });

    let accepted = 0;
    let refused = 0;
    let failed = 0;
    let firstError: string | undefined;
    const started = Date.now();
    await runPaced({
      count,
      rate,
      concurrency,
      async send(i) {
        const event = generate(i);
        try {
          const response = await fetch(url + event.path, {
            method: 'POST',
            headers: { ...authHeaders(), 'content-type': 'application/json' },
            body: JSON.stringify(event.body),
          });
          const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
          if (response.status === 202) {
            accepted++;
            if (values['print-ids']) io.stdout.write(`${String(body.event_id)}\n`);
          } else {
            refused++;
            firstError ??= `${response.status} ${String(body.detail ?? body.title ?? '')}`;
          }
        } catch (error) {
          failed++;
          const cause = (error as { cause?: { code?: string } }).cause;
          firstError ??= `cannot reach ${url}: ${cause?.code ?? String(error)}`;
        }
      },
    });
    const seconds = (Date.now() - started) / 1000;
    const summary =
      `produced ${count} ${kind} events to ${url}: ${accepted} accepted, ${refused} refused, ` +
      `${failed} failed in ${seconds.toFixed(2)} s (${(accepted / Math.max(seconds, 0.001)).toFixed(1)}/s)\n`;
    // With --print-ids stdout is for ids; the summary goes to stderr.
    (values['print-ids'] ? io.stderr : io.stdout).write(summary);
    if (firstError !== undefined) io.stderr.write(`first error: ${firstError}\n`);
    return refused + failed === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};
