import { DEAD_LETTER_REASONS } from '../../ports/event-store.ts';
import {
  ApiError,
  baseUrl,
  type ClientCommand,
  choiceOption,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  intOption,
  parseCommand,
  requestJson,
  table,
  timeOption,
  URL_HELP,
  UsageError,
  unknownAction,
} from './common.ts';

const help = `herald dlq: inspect, replay and purge dead letters

Usage:
  herald dlq list [filters] [--limit N] [--json]   dead letters, newest failure first
  herald dlq show ID                               one dead letter with its payload, as JSON
  herald dlq replay ID... | filters | --all [--dry-run]
                                                   send them through the pipeline again
  herald dlq purge ID... | filters | --all [--dry-run]
                                                   delete them for good (the accepted event
                                                   stays in the event log)

Filters (all must match):
  --type T             event type, e.g. molecule_submitted
  --reason R           invalid | poison | retries_exhausted | persist_failed | operator |
                       schema_violation
  --since T            failed last at or after T: ISO 8601, or a duration ago (15m, 2h, 7d)
  --until T            failed last before T (same forms)

Options:
  --all                replay/purge every dead letter (needed when no id or filter is given)
  --dry-run            say which dead letters would be replayed/purged; change nothing
  --limit N            at most N dead letters (list: default 100; replay/purge: default 1000)
  --json               print JSON
${URL_HELP}
  -h, --help           show this help

Exit status: 0 done, 1 not found or the API failed, 2 bad usage.
`;

interface DeadLetterJson {
  id: string;
  topic: string;
  type: string;
  reason: string;
  error_code: string;
  last_error: string;
  attempts: number;
  last_failed_at: string;
  replay_count: number;
}

interface BulkResult {
  dry_run: boolean;
  matched: number;
  ids: string[];
  replayed?: number;
  purged?: number;
}

/** `herald dlq list|show|replay|purge`. */
export const dlqCommand: ClientCommand = {
  name: 'dlq',
  summary: 'dead letters: list, show, replay, purge (filters, --dry-run)',
  help,
  async run(argv, io) {
    const parsed = parseCommand(argv, io, help, {
      type: { type: 'string' },
      reason: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      all: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (parsed === undefined) return EXIT_OK;
    const { values, positionals } = parsed;
    const [action, ...ids] = positionals;
    const url = baseUrl(values.url, io.env, values['api-key']);
    const filter: Record<string, string> = {};
    if (values.type !== undefined) filter.type = values.type;
    if (values.reason !== undefined) {
      filter.reason = choiceOption('reason', values.reason, DEAD_LETTER_REASONS, 'invalid');
    }
    const since = timeOption('since', values.since);
    const until = timeOption('until', values.until);
    if (since !== undefined) filter.since = since;
    if (until !== undefined) filter.until = until;

    switch (action) {
      case 'list': {
        if (ids.length > 0) throw new UsageError(`unexpected argument "${ids[0]}"`);
        const query = new URLSearchParams(filter);
        query.set('limit', String(intOption('limit', values.limit, 100, 1, 1000)));
        const { body } = await requestJson<{ dead_letters: DeadLetterJson[] }>(
          `${url}/api/v1/dead-letters?${query}`,
        );
        if (values.json) {
          io.stdout.write(`${JSON.stringify(body)}\n`);
          return EXIT_OK;
        }
        io.stdout.write(
          `${table([
            ['id', 'type', 'reason', 'attempts', 'replays', 'last failed', 'error'],
            ...body.dead_letters.map((d) => [
              d.id,
              d.type,
              d.reason,
              String(d.attempts),
              String(d.replay_count),
              d.last_failed_at,
              d.last_error.length > 60 ? `${d.last_error.slice(0, 57)}...` : d.last_error,
            ]),
          ])}\n${body.dead_letters.length} dead letter(s)\n`,
        );
        return EXIT_OK;
      }
      case 'show': {
        if (ids.length !== 1) throw new UsageError('dlq show takes exactly one id');
        const id = ids[0] ?? '';
        return notFoundIsFailure(io, id, async () => {
          const { body } = await requestJson(
            `${url}/api/v1/dead-letters/${encodeURIComponent(id)}`,
          );
          io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
          return EXIT_OK;
        });
      }
      case 'replay':
      case 'purge': {
        const hasFilter = Object.keys(filter).length > 0;
        if (ids.length === 0 && !hasFilter && !values.all) {
          throw new UsageError(`dlq ${action} needs ids, a filter, or --all`);
        }
        if (ids.length > 0 && (hasFilter || values.all)) {
          throw new UsageError(`dlq ${action}: give ids or filters/--all, not both`);
        }
        const body: Record<string, unknown> = {
          ...filter,
          dry_run: values['dry-run'] === true,
          limit: intOption('limit', values.limit, 1000, 1, 10000),
        };
        if (ids.length > 0) body.ids = ids;
        if (values.all) body.all = true;
        const { body: result } = await requestJson<BulkResult>(
          `${url}/api/v1/dead-letters/${action}`,
          { body },
        );
        if (values.json) {
          io.stdout.write(`${JSON.stringify(result)}\n`);
        } else {
          const verb = action === 'replay' ? 'replayed' : 'purged';
          const done = action === 'replay' ? result.replayed : result.purged;
          const head = result.dry_run
            ? `dry run: would ${action} ${result.matched} dead letter(s)`
            : `${verb} ${done ?? 0} of ${result.matched} matching dead letter(s)`;
          io.stdout.write(`${head}\n${result.ids.map((id) => `  ${id}\n`).join('')}`);
        }
        // Named ids that were not dead letters are a failure the caller should see.
        if (ids.length > 0 && result.matched < ids.length) {
          const missing = ids.filter((id) => !result.ids.includes(id));
          io.stderr.write(`herald dlq: not dead letters: ${missing.join(', ')}\n`);
          return EXIT_FAILURE;
        }
        return EXIT_OK;
      }
      default:
        throw unknownAction(action, ['list', 'show', 'replay', 'purge']);
    }
  },
};

async function notFoundIsFailure(io: Io, id: string, work: () => Promise<number>) {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      io.stderr.write(`herald dlq: no dead letter with id "${id}"\n`);
      return EXIT_FAILURE;
    }
    throw error;
  }
}
