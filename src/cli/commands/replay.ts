import {
  ApiError,
  baseUrl,
  type ClientCommand,
  choiceOption,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  intOption,
  parseOptions,
  requestJson,
  sleep,
  table,
  timeOption,
  URL_HELP,
  URL_OPTION,
  UsageError,
} from './common.ts';

const TARGETS = ['agent', 'webhook', 'pipeline'] as const;

const help = `herald replay: replay a range of the event log to the agent, a webhook endpoint or the pipeline

Usage:
  herald replay create --target T --from T [selection] [--rate N] [--dry-run] [--wait]
  herald replay list [--limit N] [--json]          replays, newest first
  herald replay show ID [--watch] [--json]         one replay: progress per type, samples, history
  herald replay pause ID | resume ID | cancel ID

Targets:
  agent       run the chemistry agent again on chemical events (re-enrich, e.g. once an LLM
              is configured)
  webhook     backfill one endpoint (--endpoint ID) with the events of the types it subscribes
              to, each with its original webhook-id, so receivers deduplicate
  pipeline    re-derive the enrichment of processed events in place (after a fix); analytics
              counts do not change

Selection (events accepted in [from, to)):
  --from T             ISO 8601, or a duration ago (15m, 2h, 7d); required
  --to T               default now
  --topic T            analytics, chemical, events, users … (repeat; default: the target's)
  --type T             event type (repeat; default: all)
  --key K              ordering key: user or molecule id (repeat; default: all)

Options:
  --endpoint ID        the webhook endpoint (target webhook)
  --rate N             at most N events per second (default: as fast as the target takes)
  --dry-run            count per type what would go and what would change; change nothing.
                       Waits for the count and prints it
  --wait               follow the replay until it ends, printing its progress
  --json               print JSON
${URL_HELP}
  -h, --help           show this help

A replay is run by a worker and recorded (who asked, what, when, how far): a worker that stops
or dies leaves it to another, which goes on from the last batch committed. A range reaching
before what the log still holds (LOG_RETENTION) is refused.

Exit status: 0 done, 1 refused, failed or not found, 2 bad usage.
`;

interface ReplayJson {
  id: string;
  target: string;
  endpoint_id: string | null;
  from: string;
  to: string;
  topics: string[];
  types: string[] | null;
  keys: string[] | null;
  rate_per_second: number;
  dry_run: boolean;
  status: string;
  created_by: string;
  created_at: string;
  progress: {
    read: number;
    sent: number;
    skipped: number;
    by_type: Record<string, { sent: number; skipped: number }>;
    outcomes: Record<string, number>;
  };
  samples: { event_id: string; before: Record<string, unknown>; after: Record<string, unknown> }[];
  last_error: string | null;
  actions: { at: string; action: string; actor: string }[];
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/** One line of progress: status, counts, outcomes. */
export function progressLine(r: ReplayJson): string {
  const outcomes = Object.entries(r.progress.outcomes)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  return `${r.status}: ${r.progress.read} read, ${r.progress.sent} ${r.dry_run ? 'would go' : 'sent'}, ${r.progress.skipped} skipped${outcomes === '' ? '' : ` (${outcomes})`}`;
}

/** A replay, for people: what, by whom, progress per type, what changed, history. */
export function renderReplay(r: ReplayJson): string {
  const selection = [
    `${r.from} → ${r.to}`,
    `topics ${r.topics.join(', ')}`,
    r.types === null ? undefined : `types ${r.types.join(', ')}`,
    r.keys === null ? undefined : `keys ${r.keys.join(', ')}`,
  ].filter((s) => s !== undefined);
  const lines = [
    `replay ${r.id}${r.dry_run ? ' (dry run)' : ''}: ${r.target}${r.endpoint_id === null ? '' : ` ${r.endpoint_id}`}, by ${r.created_by} at ${r.created_at}`,
    `  ${selection.join('; ')}${r.rate_per_second > 0 ? `; at most ${r.rate_per_second}/s` : ''}`,
    `  ${progressLine(r)}`,
  ];
  const types = Object.entries(r.progress.by_type);
  if (types.length > 0) {
    lines.push(
      '',
      table([
        ['type', r.dry_run ? 'would go' : 'sent', 'skipped'],
        ...types
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([type, c]) => [type, String(c.sent), String(c.skipped)]),
      ])
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  if (r.samples.length > 0) {
    lines.push(
      '',
      `  ${r.dry_run ? 'what would change' : 'what changed'} (first ${r.samples.length}):`,
    );
    for (const sample of r.samples)
      lines.push(`    ${sample.event_id}: ${diff(sample.before, sample.after)}`);
  }
  if (r.last_error !== null) lines.push('', `  last error: ${r.last_error}`);
  if (r.actions.length > 0) {
    lines.push('', ...r.actions.map((a) => `  ${a.at}  ${a.action} by ${a.actor}`));
  }
  return `${lines.join('\n')}\n`;
}

/** The top-level fields that differ: `rules: 1 → 2`. */
function diff(before: Record<string, unknown>, after: Record<string, unknown>): string {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const shown = (v: unknown) => {
    const text = v === undefined ? '(none)' : JSON.stringify(v);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  };
  const changes = keys
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((k) => `${k}: ${shown(before[k])} → ${shown(after[k])}`);
  return changes.length === 0 ? '(no change)' : changes.join('; ');
}

/** `herald replay create|list|show|pause|resume|cancel`. */
export const replayCommand: ClientCommand = {
  name: 'replay',
  summary: 'replay a range of the log to the agent, a webhook or the pipeline (--dry-run first)',
  help,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, {
      ...URL_OPTION,
      target: { type: 'string' },
      endpoint: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      topic: { type: 'string', multiple: true },
      type: { type: 'string', multiple: true },
      key: { type: 'string', multiple: true },
      rate: { type: 'string' },
      'dry-run': { type: 'boolean' },
      wait: { type: 'boolean' },
      watch: { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      io.stdout.write(help);
      return EXIT_OK;
    }
    const [action, ...rest] = positionals;
    const url = baseUrl(values.url, io.env, values['api-key']);
    const print = (r: ReplayJson) =>
      io.stdout.write(values.json ? `${JSON.stringify(r)}\n` : renderReplay(r));
    switch (action) {
      case 'create': {
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
        if (values.target === undefined) throw new UsageError('--target is required');
        const target = choiceOption('target', values.target, TARGETS, 'pipeline');
        const from = timeOption('from', values.from);
        if (from === undefined) throw new UsageError('--from is required');
        if (target === 'webhook' && values.endpoint === undefined) {
          throw new UsageError('--endpoint is required with --target webhook');
        }
        const body: Record<string, unknown> = {
          target,
          from,
          dry_run: values['dry-run'] === true,
          rate: intOption('rate', values.rate, 0, 0, 1_000_000),
        };
        const to = timeOption('to', values.to);
        if (to !== undefined) body.to = to;
        if (values.endpoint !== undefined) body.endpoint_id = values.endpoint;
        if (values.topic !== undefined) body.topics = values.topic;
        if (values.type !== undefined) body.types = values.type;
        if (values.key !== undefined) body.keys = values.key;
        const { body: created } = await requestJson<ReplayJson>(`${url}/api/v1/replays`, { body });
        if (!body.dry_run && !values.wait) {
          if (values.json) print(created);
          else
            io.stdout.write(
              `replay ${created.id} created; follow it with: herald replay show ${created.id} --watch\n`,
            );
          return EXIT_OK;
        }
        return follow(io, url, created, values.json === true);
      }
      case 'list': {
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
        const limit = intOption('limit', values.limit, 20, 1, 500);
        const { body } = await requestJson<{ replays: ReplayJson[] }>(
          `${url}/api/v1/replays?limit=${limit}`,
        );
        if (values.json) {
          io.stdout.write(`${JSON.stringify(body)}\n`);
          return EXIT_OK;
        }
        io.stdout.write(
          `${table([
            ['id', 'target', 'status', 'read', 'sent', 'skipped', 'by', 'created'],
            ...body.replays.map((r) => [
              r.id,
              `${r.target}${r.dry_run ? ' (dry run)' : ''}`,
              r.status,
              String(r.progress.read),
              String(r.progress.sent),
              String(r.progress.skipped),
              r.created_by,
              r.created_at,
            ]),
          ])}\n${body.replays.length} replay(s)\n`,
        );
        return EXIT_OK;
      }
      case 'show': {
        const id = single(rest, 'show');
        const replay = await found(io, id, () =>
          requestJson<ReplayJson>(`${url}/api/v1/replays/${encodeURIComponent(id)}`),
        );
        if (replay === undefined) return EXIT_FAILURE;
        if (values.watch) return follow(io, url, replay, values.json === true);
        print(replay);
        return EXIT_OK;
      }
      case 'pause':
      case 'resume':
      case 'cancel': {
        const id = single(rest, action);
        const replay = await found(io, id, () =>
          requestJson<ReplayJson>(`${url}/api/v1/replays/${encodeURIComponent(id)}/${action}`, {
            method: 'POST',
            body: {},
          }),
        );
        if (replay === undefined) return EXIT_FAILURE;
        if (values.json) print(replay);
        else io.stdout.write(`replay ${replay.id}: ${progressLine(replay)}\n`);
        return EXIT_OK;
      }
      default:
        throw new UsageError(
          action === undefined
            ? 'missing action: create, list, show, pause, resume or cancel'
            : `unknown action "${action}"`,
        );
    }
  },
};

function single(rest: string[], action: string): string {
  if (rest.length !== 1 || rest[0] === undefined) {
    throw new UsageError(`replay ${action} takes exactly one id`);
  }
  return rest[0];
}

async function found(
  io: Io,
  id: string,
  request: () => Promise<{ body: ReplayJson }>,
): Promise<ReplayJson | undefined> {
  try {
    return (await request()).body;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      io.stderr.write(`herald replay: no replay with id "${id}"\n`);
      return undefined;
    }
    throw error;
  }
}

/** Prints progress until the replay ends, then the replay; 1 unless it completed. */
async function follow(io: Io, url: string, start: ReplayJson, json: boolean): Promise<number> {
  let replay = start;
  let last = '';
  const tty = io.stdout.isTTY === true && !json;
  while (!FINISHED.has(replay.status)) {
    const line = progressLine(replay);
    if (!json && line !== last) io.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
    last = line;
    await sleep(250);
    replay = (await requestJson<ReplayJson>(`${url}/api/v1/replays/${replay.id}`)).body;
  }
  if (tty) io.stdout.write('\n');
  io.stdout.write(json ? `${JSON.stringify(replay)}\n` : renderReplay(replay));
  return replay.status === 'completed' ? EXIT_OK : EXIT_FAILURE;
}
