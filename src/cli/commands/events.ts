import {
  ApiError,
  baseUrl,
  type ClientCommand,
  EXIT_FAILURE,
  EXIT_OK,
  intOption,
  parseCommand,
  requestJson,
  table,
  timeOption,
  URL_HELP,
  UsageError,
  unknownAction,
} from './common.ts';

const help = `herald events: look events up

Usage:
  herald events get ID           an event, its status (accepted, processed, failed,
                                 dead_lettered), enrichment and failure, as JSON
  herald events search [filters] the newest events matching all the filters

Search filters:
  --user-id U          events of this user
  --type T             event type (page_view, purchase, molecule_submitted ...)
  --topic T            analytics | chemical | events
  --since T, --until T accepted at or after / before T: ISO 8601, or a duration ago (15m, 2h, 7d)
  --limit N            at most N events (default 50)
  --json               print JSON instead of a table

${URL_HELP}
  -h, --help           show this help

Exit status: 0 found, 1 not found or the API failed, 2 bad usage.
`;

/** `herald events get ID | search`. */
export const eventsCommand: ClientCommand = {
  name: 'events',
  summary: 'look an event up (events get ID) or search events (events search --user-id U)',
  help,
  async run(argv, io) {
    const parsed = parseCommand(argv, io, help, {
      'user-id': { type: 'string' },
      type: { type: 'string' },
      topic: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (parsed === undefined) return EXIT_OK;
    const { values, positionals } = parsed;
    const [action, ...rest] = positionals;
    const url = baseUrl(values.url, io.env, values['api-key']);
    if (action === 'get') {
      if (rest.length !== 1) throw new UsageError('events get takes exactly one event id');
      const id = rest[0] ?? '';
      try {
        const { body } = await requestJson(`${url}/api/v1/events/${encodeURIComponent(id)}`);
        io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
        return EXIT_OK;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          io.stderr.write(`herald events: no event with id "${id}"\n`);
          return EXIT_FAILURE;
        }
        throw error;
      }
    }
    if (action === 'search') {
      if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
      const query = new URLSearchParams();
      if (values['user-id'] !== undefined) query.set('user_id', values['user-id']);
      if (values.type !== undefined) query.set('type', values.type);
      if (values.topic !== undefined) query.set('topic', values.topic);
      const since = timeOption('since', values.since);
      const until = timeOption('until', values.until);
      if (since !== undefined) query.set('from', since);
      if (until !== undefined) query.set('to', until);
      query.set('limit', String(intOption('limit', values.limit, 50, 1, 1000)));
      const { body } = await requestJson<{ events: Record<string, unknown>[] }>(
        `${url}/api/v1/events?${query}`,
      );
      if (values.json) {
        io.stdout.write(`${JSON.stringify(body)}\n`);
        return EXIT_OK;
      }
      io.stdout.write(
        `${table([
          ['id', 'status', 'topic', 'type', 'key', 'accepted_at'],
          ...body.events.map((e) =>
            ['id', 'status', 'topic', 'type', 'key', 'accepted_at'].map((k) => String(e[k] ?? '')),
          ),
        ])}\n${body.events.length} event(s)\n`,
      );
      return EXIT_OK;
    }
    throw unknownAction(action, ['get', 'search']);
  },
};
