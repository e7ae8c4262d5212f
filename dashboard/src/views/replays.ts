import { getJson, postJson } from '../api.ts';
import { formatNumber, formatTime, h, jsonBlock } from '../dom.ts';
import { registerView } from '../views.ts';

/** A replay as /api/v1/replays returns it. */
interface Replay {
  id: string;
  target: 'agent' | 'webhook' | 'pipeline';
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
  finished_at: string | null;
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

interface LogStatus {
  broker: string;
  retention_ms: number | null;
  retained_since: string | null;
  oldest_at: string | null;
  groups: { group: string; blocking: boolean }[];
}

interface Endpoint {
  id: string;
  url: string;
  event_types: string[];
}

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** The nodes that are there (a view leaves out what does not apply). */
const present = (...nodes: (Node | null)[]): Node[] => nodes.filter((n): n is Node => n !== null);

const days = (ms: number) => {
  const d = ms / 86_400_000;
  return d >= 1 ? `${formatNumber(d)} d` : `${formatNumber(ms / 3_600_000)} h`;
};

registerView({
  id: 'replays',
  title: 'Replays',
  order: 15,
  mount(el) {
    const message = h('p', { class: 'message', role: 'status', 'data-testid': 'replay-message' });
    const say = (text: string, kind: 'ok' | 'error' = 'ok') => {
      message.textContent = text;
      message.className = `message ${kind}`;
    };
    const logPanel = h('section', { class: 'log-status', 'data-testid': 'log-status' });
    const target = h(
      'select',
      { name: 'target', 'data-testid': 'replay-target' },
      h('option', { value: 'pipeline' }, 'pipeline: re-derive enrichment'),
      h('option', { value: 'webhook' }, 'webhook: backfill an endpoint'),
      h('option', { value: 'agent' }, 'agent: re-enrich chemical events'),
    );
    const endpoint = h('select', { name: 'endpoint', 'data-testid': 'replay-endpoint' });
    const endpointLabel = h('label', { hidden: true }, 'endpoint ', endpoint);
    const from = h('input', { type: 'datetime-local', name: 'from', 'data-testid': 'replay-from' });
    const to = h('input', { type: 'datetime-local', name: 'to', title: 'default: now' });
    const topics = h('input', { name: 'topics', placeholder: 'topics (default: the target’s)' });
    const types = h('input', { name: 'types', placeholder: 'event types (default: all)' });
    const keys = h('input', { name: 'keys', placeholder: 'keys (default: all)' });
    const rate = h('input', {
      type: 'number',
      min: '0',
      name: 'rate',
      placeholder: 'events/s (0: no limit)',
    });
    const rows = h('tbody');
    const detail = h('aside', { class: 'detail', 'data-testid': 'replay-detail' });
    let shown: string | undefined;

    const body = (dryRun: boolean) => {
      const b: Record<string, unknown> = { target: target.value, dry_run: dryRun };
      if (from.value === '') throw new Error('Choose where the range starts (from).');
      b.from = new Date(from.value).toISOString();
      if (to.value !== '') b.to = new Date(to.value).toISOString();
      if (target.value === 'webhook') b.endpoint_id = endpoint.value;
      if (list(topics.value).length > 0) b.topics = list(topics.value);
      if (list(types.value).length > 0) b.types = list(types.value);
      if (list(keys.value).length > 0) b.keys = list(keys.value);
      if (rate.value !== '') b.rate = Number(rate.value);
      return b;
    };
    const create = async (dryRun: boolean) => {
      try {
        const replay = await postJson<Replay>('/api/v1/replays', body(dryRun));
        say(
          dryRun
            ? `Dry run ${replay.id} counting what would go…`
            : `Replay ${replay.id} created; a worker runs it.`,
        );
        shown = replay.id;
        await load();
      } catch (error) {
        say((error as Error).message, 'error');
      }
    };
    const act = async (replay: Replay, action: 'pause' | 'resume' | 'cancel') => {
      try {
        await postJson(`/api/v1/replays/${replay.id}/${action}`, {});
        await load();
      } catch (error) {
        say((error as Error).message, 'error');
      }
    };

    const showDetail = (r: Replay) => {
      const types = Object.entries(r.progress.by_type).sort(([a], [b]) => a.localeCompare(b));
      detail.replaceChildren(
        ...present(
          h('h3', {}, `${r.dry_run ? 'Dry run' : 'Replay'} ${r.id}`),
          h(
            'dl',
            {},
            ...(
              [
                ['target', `${r.target}${r.endpoint_id === null ? '' : ` → ${r.endpoint_id}`}`],
                ['range', `${formatTime(r.from)} → ${formatTime(r.to)}`],
                ['topics', r.topics.join(', ')],
                ['types', r.types?.join(', ') ?? 'all'],
                ['keys', r.keys?.join(', ') ?? 'all'],
                ['rate', r.rate_per_second > 0 ? `${r.rate_per_second}/s` : 'no limit'],
                ['status', r.status],
                ['by', r.created_by],
              ] as const
            ).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
          ),
          h(
            'table',
            { class: 'grid', 'data-testid': 'replay-by-type' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'type'),
                h('th', {}, r.dry_run ? 'would go' : 'sent'),
                h('th', {}, 'skipped'),
              ),
            ),
            h(
              'tbody',
              {},
              ...types.map(([type, c]) =>
                h(
                  'tr',
                  {},
                  h('td', {}, type),
                  h('td', { class: 'num' }, formatNumber(c.sent)),
                  h('td', { class: 'num' }, formatNumber(c.skipped)),
                ),
              ),
            ),
          ),
          h(
            'p',
            { 'data-testid': 'replay-outcomes' },
            Object.entries(r.progress.outcomes)
              .map(([k, n]) => `${k.replaceAll('_', ' ')}: ${formatNumber(n)}`)
              .join(' · ') || 'nothing read yet',
          ),
          r.last_error === null ? null : h('p', { class: 'error-text' }, r.last_error),
          r.samples.length === 0
            ? null
            : h('h4', {}, r.dry_run ? 'What would change' : 'What changed'),
          ...r.samples
            .slice(0, 5)
            .map((s) => jsonBlock({ event: s.event_id, before: s.before, after: s.after })),
          h('h4', {}, 'History'),
          h(
            'ul',
            {},
            ...r.actions.map((a) => h('li', {}, `${formatTime(a.at)} ${a.action} by ${a.actor}`)),
          ),
        ),
      );
    };

    const load = async () => {
      try {
        const [{ replays }, status] = await Promise.all([
          getJson<{ replays: Replay[] }>('/api/v1/replays?limit=50'),
          getJson<LogStatus>('/api/v1/log'),
        ]);
        const held = status.groups.filter((g) => g.blocking);
        logPanel.replaceChildren(
          ...present(
            h(
              'p',
              {},
              `${status.broker} log · retention ${status.retention_ms === null ? 'keep' : days(status.retention_ms)} · complete since ${status.retained_since === null ? 'the start' : formatTime(status.retained_since)} · oldest event ${formatTime(status.oldest_at)}`,
            ),
            held.length === 0
              ? null
              : h(
                  'p',
                  { class: 'message error', 'data-testid': 'log-held' },
                  `Retention held back by ${held.map((g) => g.group).join(', ')}: uncommitted events older than the retention.`,
                ),
          ),
        );
        rows.replaceChildren(
          ...replays.map((r) => {
            const done = r.progress.read;
            const buttons = [
              ['pending', 'running'].includes(r.status) ? (['pause', 'Pause'] as const) : undefined,
              r.status === 'paused' ? (['resume', 'Resume'] as const) : undefined,
              ['pending', 'running', 'paused'].includes(r.status)
                ? (['cancel', 'Cancel'] as const)
                : undefined,
            ].filter((b) => b !== undefined);
            return h(
              'tr',
              {
                'data-id': r.id,
                class: r.id === shown ? 'selected' : '',
                onclick: () => {
                  shown = r.id;
                  showDetail(r);
                },
              },
              h('td', { class: 'mono' }, r.id),
              h('td', {}, `${r.target}${r.dry_run ? ' (dry run)' : ''}`),
              h('td', {}, h('span', { class: `badge ${r.status}` }, r.status)),
              h('td', { class: 'num' }, formatNumber(done)),
              h('td', { class: 'num' }, formatNumber(r.progress.sent)),
              h('td', { class: 'num' }, formatNumber(r.progress.skipped)),
              h('td', {}, r.created_by),
              h('td', {}, formatTime(r.created_at)),
              h(
                'td',
                {},
                ...buttons.map(([action, label]) =>
                  h(
                    'button',
                    {
                      type: 'button',
                      'data-action': action,
                      onclick: (e) => {
                        e.stopPropagation();
                        void act(r, action);
                      },
                    },
                    label,
                  ),
                ),
              ),
            );
          }),
        );
        if (replays.length === 0) {
          rows.append(h('tr', {}, h('td', { colspan: '9', class: 'muted' }, 'No replays yet.')));
        }
        const current = replays.find((r) => r.id === shown);
        if (current !== undefined) showDetail(current);
      } catch (error) {
        say((error as Error).message, 'error');
      }
    };

    const loadEndpoints = async () => {
      try {
        const { endpoints } = await getJson<{ endpoints: Endpoint[] }>(
          '/api/v1/notifications/webhooks',
        );
        endpoint.replaceChildren(
          ...endpoints.map((e) =>
            h('option', { value: e.id }, `${e.url} (${e.event_types.join(', ')})`),
          ),
        );
      } catch (error) {
        say((error as Error).message, 'error');
      }
    };
    target.addEventListener('change', () => {
      endpointLabel.hidden = target.value !== 'webhook';
      if (target.value === 'webhook') void loadEndpoints();
    });

    el.append(
      h('h2', {}, 'Replays'),
      logPanel,
      h(
        'form',
        {
          class: 'filters',
          onsubmit: (e) => {
            e.preventDefault();
            void create(false);
          },
        },
        target,
        endpointLabel,
        h('label', {}, 'from ', from),
        h('label', {}, 'to ', to),
        topics,
        types,
        keys,
        rate,
        h(
          'button',
          { type: 'button', 'data-testid': 'replay-dry-run', onclick: () => void create(true) },
          'Dry run',
        ),
        h('button', { type: 'submit', 'data-testid': 'replay-start' }, 'Start replay'),
      ),
      message,
      h(
        'div',
        { class: 'split' },
        h(
          'table',
          { class: 'grid', 'data-testid': 'replays-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['id', 'target', 'status', 'read', 'sent', 'skipped', 'by', 'created', ''].map(
                (c) => h('th', {}, c),
              ),
            ),
          ),
          rows,
        ),
        detail,
      ),
    );
    void load();
    const timer = setInterval(() => void load(), 1000);
    return () => clearInterval(timer);
  },
});
