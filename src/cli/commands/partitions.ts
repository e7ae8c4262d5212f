import {
  baseUrl,
  type ClientCommand,
  EXIT_OK,
  intOption,
  parseCommand,
  requestJson,
  table,
  URL_HELP,
  UsageError,
} from './common.ts';

const help = `herald partitions: the processing workers' partitions, and unblocking a stalled one

Usage:
  herald partitions [list] [--stalled] [--json]
      each partition's committed offset, lag, the event at its head and whether it is
      stalled (its committed offset has not moved for STALL_AFTER_MS while events wait)
  herald partitions dead-letter-head PARTITION --event ID [--topic T] [--note TEXT] [--dry-run]
      dead-letter the event at the head of a partition that does not move. ID must be the
      event at its head (see list): nothing is done otherwise. The worker holding it
      dead-letters it at its next attempt, as reason "operator" with your API key's name;
      replay it later with herald dlq replay ID.

Options:
  --stalled            list only stalled partitions
  --event ID           the event expected at the head
  --topic T            Kafka and Redis: the topic of the partition, when several wait
  --note TEXT          why, kept with the dead letter
  --dry-run            say what would be done; change nothing
  --json               print JSON
${URL_HELP}
  -h, --help           show this help

Needs an API key with the admin scope where keys are required.
Exit status: 0 done, 1 not the event at the head, not found or the API failed, 2 bad usage.
`;

interface PartitionJson {
  partition: number;
  topic?: string;
  committed_offset: number;
  lag: number;
  head_event_id?: string;
  stalled: boolean;
  stalled_for_s?: number;
}

interface UnblockJson {
  dry_run: boolean;
  partition: number;
  topic?: string;
  event_id: string;
  lag: number;
  stalled: boolean;
  requested_by?: string;
  detail: string;
}

/** `herald partitions [list] | dead-letter-head`. */
export const partitionsCommand: ClientCommand = {
  name: 'partitions',
  summary: 'partitions: lag, head event, stalls; dead-letter a stalled head (--dry-run)',
  help,
  async run(argv, io) {
    const parsed = parseCommand(argv, io, help, {
      stalled: { type: 'boolean' },
      event: { type: 'string' },
      topic: { type: 'string' },
      note: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (parsed === undefined) return EXIT_OK;
    const { values, positionals } = parsed;
    const [action = 'list', ...rest] = positionals;
    const url = baseUrl(values.url, io.env, values['api-key']);
    switch (action) {
      case 'list': {
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
        const { body } = await requestJson<{ group: string; partitions: PartitionJson[] }>(
          `${url}/api/v1/partitions`,
        );
        const shown = values.stalled ? body.partitions.filter((p) => p.stalled) : body.partitions;
        if (values.json) {
          io.stdout.write(`${JSON.stringify({ ...body, partitions: shown })}\n`);
          return EXIT_OK;
        }
        const topics = shown.some((p) => p.topic !== undefined);
        io.stdout.write(
          `${table([
            ['partition', ...(topics ? ['topic'] : []), 'committed', 'lag', 'head', 'state'],
            ...shown.map((p) => [
              String(p.partition),
              ...(topics ? [p.topic ?? ''] : []),
              String(p.committed_offset),
              String(p.lag),
              p.head_event_id ?? (p.lag > 0 ? '?' : '—'),
              p.stalled ? `STALLED ${p.stalled_for_s ?? 0} s` : p.lag > 0 ? 'moving' : 'idle',
            ]),
          ])}\n${shown.filter((p) => p.stalled).length} stalled of ${body.partitions.length} (group ${body.group})\n`,
        );
        return EXIT_OK;
      }
      case 'dead-letter-head': {
        if (rest.length !== 1) throw new UsageError('dead-letter-head takes one PARTITION');
        const partition = intOption('partition', rest[0], 0, 0, 65535);
        if (values.event === undefined || values.event === '') {
          throw new UsageError('dead-letter-head needs --event ID, the event at the head');
        }
        const request: Record<string, unknown> = {
          event_id: values.event,
          dry_run: values['dry-run'] === true,
        };
        if (values.topic !== undefined) request.topic = values.topic;
        if (values.note !== undefined) request.note = values.note;
        const { body } = await requestJson<UnblockJson>(
          `${url}/api/v1/partitions/${partition}/dead-letter-head`,
          { body: request },
        );
        if (values.json) {
          io.stdout.write(`${JSON.stringify(body)}\n`);
          return EXIT_OK;
        }
        const state = body.stalled ? 'stalled' : 'not stalled';
        io.stdout.write(
          body.dry_run
            ? `dry run: ${body.detail}\n  partition ${partition} (${state}, ${body.lag} waiting)\n`
            : `requested by ${body.requested_by}: ${body.detail}\n`,
        );
        return EXIT_OK;
      }
      default:
        throw new UsageError(`unknown action "${action}": list or dead-letter-head`);
    }
  },
};
