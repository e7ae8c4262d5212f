import { formatDuration } from '../../domain/durations.ts';
import {
  ApiError,
  baseUrl,
  type ClientCommand,
  EXIT_FAILURE,
  EXIT_OK,
  parseOptions,
  requestJson,
  URL_HELP,
  URL_OPTION,
  UsageError,
} from './common.ts';

const help = `herald log: the event log over time (retention, segments, who holds it back)

Usage:
  herald log [status] [--json] [--check]   the broker, LOG_RETENTION, the log's extent, its
                                            segments (Postgres) and every consumer group, with
                                            the ones holding retention back
  herald log forget-group GROUP            forget a consumer group that is gone for good, so
                                            that it no longer holds retention back

Options:
  --check              exit 3 when a consumer group holds retention back (for scripts)
  --json               print JSON
${URL_HELP}
  -h, --help           show this help

Retention never drops an event a consumer group has not committed: a stopped group keeps the
log growing (herald_log_retention_blocked{group} = 1). Start its consumers again, or forget the
group when it is gone for good.

Exit status: 0 ok, 1 the API failed or no such group, 2 bad usage, 3 (--check) held back.
`;

const EXIT_HELD = 3;

export interface LogStatusJson {
  broker: string;
  retention_ms: number | null;
  segment_ms: number;
  dedupe_window_ms: number;
  retained_since: string | null;
  oldest_at: string | null;
  oldest_age_seconds: number | null;
  segments: { segment: number; opened_at: string; closed_at: string | null }[];
  groups: { group: string; blocking: boolean }[];
}

/** The status for people. */
export function renderLog(url: string, s: LogStatusJson): string {
  const age =
    s.oldest_age_seconds === null
      ? ''
      : ` (${formatDuration(Math.round(s.oldest_age_seconds) * 1000)} ago)`;
  const lines = [
    `herald log  ${url}  ${s.broker} broker`,
    '',
    `retention      ${s.retention_ms === null ? 'keep (LOG_RETENTION unset)' : formatDuration(s.retention_ms)}${s.broker === 'postgres' ? `, segments of ${formatDuration(s.segment_ms)}` : ''}`,
    `dedupe window  ${formatDuration(s.dedupe_window_ms)}`,
    `complete since ${s.retained_since ?? 'the start (nothing cut)'}`,
    `oldest event   ${s.oldest_at ?? '(the log is empty)'}${age}`,
  ];
  if (s.segments.length > 0) {
    const open = s.segments.find((seg) => seg.closed_at === null);
    lines.push(
      `segments       ${s.segments.length} kept: ${s.segments.map((seg) => seg.segment).join(', ')}${open === undefined ? '' : ` (${open.segment} open since ${open.opened_at})`}`,
    );
  }
  lines.push('', 'consumer groups');
  if (s.groups.length === 0) lines.push('  (none)');
  for (const g of s.groups) {
    lines.push(
      `  ${g.group.padEnd(28)} ${g.blocking ? 'HOLDS RETENTION BACK: uncommitted events older than LOG_RETENTION' : 'ok'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `herald log [status] | forget-group GROUP`. */
export const logCommand: ClientCommand = {
  name: 'log',
  summary:
    'the event log over time: retention, extent, groups holding it back (log forget-group G)',
  help,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, {
      ...URL_OPTION,
      json: { type: 'boolean' },
      check: { type: 'boolean' },
    });
    if (values.help) {
      io.stdout.write(help);
      return EXIT_OK;
    }
    const [action = 'status', ...rest] = positionals;
    const url = baseUrl(values.url, io.env, values['api-key']);
    if (action === 'status') {
      if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
      const { body } = await requestJson<LogStatusJson>(`${url}/api/v1/log`);
      io.stdout.write(values.json ? `${JSON.stringify(body)}\n` : renderLog(url, body));
      return values.check && body.groups.some((g) => g.blocking) ? EXIT_HELD : EXIT_OK;
    }
    if (action === 'forget-group') {
      const [group] = rest;
      if (group === undefined || rest.length !== 1) {
        throw new UsageError('log forget-group takes exactly one group');
      }
      try {
        await requestJson(`${url}/api/v1/log/groups/${encodeURIComponent(group)}`, {
          method: 'DELETE',
        });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          io.stderr.write(`herald log: no consumer group "${group}"\n`);
          return EXIT_FAILURE;
        }
        throw error;
      }
      io.stdout.write(`consumer group "${group}" forgotten: it no longer holds retention back\n`);
      return EXIT_OK;
    }
    throw new UsageError(`unknown action "${action}"`);
  },
};
