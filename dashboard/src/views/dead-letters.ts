import { type BulkResult, type DeadLetter, getJson, postJson } from '../api.ts';
import { formatTime, h, jsonBlock } from '../dom.ts';
import { registerView } from '../views.ts';

const REASONS = [
  '',
  'invalid',
  'poison',
  'retries_exhausted',
  'persist_failed',
  'operator',
  'schema_violation',
];

registerView({
  id: 'dead-letters',
  title: 'Dead letters',
  order: 10,
  mount(el, params) {
    const type = h('input', {
      name: 'type',
      placeholder: 'event type',
      value: params.get('type') ?? '',
    });
    const reason = h(
      'select',
      { name: 'reason' },
      ...REASONS.map((r) => h('option', { value: r }, r === '' ? 'any reason' : r)),
    );
    reason.value = params.get('reason') ?? '';
    const since = h('input', { name: 'since', type: 'datetime-local', title: 'failed since' });
    const until = h('input', { name: 'until', type: 'datetime-local', title: 'failed before' });
    const message = h('p', { class: 'message', 'data-testid': 'dlq-message', role: 'status' });
    const rows = h('tbody');
    const detail = h('aside', { class: 'detail', 'data-testid': 'dlq-detail' });
    const selectAll = h('input', { type: 'checkbox', title: 'select all' });
    let letters: DeadLetter[] = [];
    const selected = new Set<string>();

    const filter = () => {
      const f: Record<string, string> = {};
      if (type.value.trim() !== '') f.type = type.value.trim();
      if (reason.value !== '') f.reason = reason.value;
      if (since.value !== '') f.since = new Date(since.value).toISOString();
      if (until.value !== '') f.until = new Date(until.value).toISOString();
      return f;
    };
    const say = (text: string, kind: 'ok' | 'error' = 'ok') => {
      message.textContent = text;
      message.className = `message ${kind}`;
    };

    const load = async () => {
      try {
        const query = new URLSearchParams({ ...filter(), limit: '500' });
        ({ dead_letters: letters } = await getJson<{ dead_letters: DeadLetter[] }>(
          `/api/v1/dead-letters?${query}`,
        ));
      } catch (error) {
        say((error as Error).message, 'error');
        return;
      }
      for (const id of [...selected]) if (!letters.some((l) => l.id === id)) selected.delete(id);
      rows.replaceChildren(
        ...letters.map((l) => {
          const box = h('input', { type: 'checkbox', checked: selected.has(l.id) });
          box.addEventListener('change', () => {
            if (box.checked) selected.add(l.id);
            else selected.delete(l.id);
          });
          return h(
            'tr',
            { 'data-id': l.id, onclick: (e) => e.target !== box && show(l) },
            h('td', {}, box),
            h('td', { class: 'mono' }, l.id),
            h('td', {}, l.type),
            h('td', {}, h('span', { class: `badge ${l.reason}` }, l.reason)),
            h('td', {}, String(l.attempts)),
            h('td', {}, String(l.replay_count)),
            h('td', {}, formatTime(l.last_failed_at)),
            h('td', { class: 'error-text' }, l.last_error),
          );
        }),
      );
      if (letters.length === 0)
        rows.append(
          h('tr', {}, h('td', { colspan: '8', class: 'muted' }, 'No dead letters match.')),
        );
    };

    const replay = async (body: Record<string, unknown>, what: string) => {
      try {
        const result = await postJson<BulkResult>('/api/v1/dead-letters/replay', body);
        say(`Replayed ${result.replayed ?? 0} of ${result.matched} ${what}.`);
        detail.replaceChildren();
        await load();
      } catch (error) {
        say((error as Error).message, 'error');
      }
    };

    const show = (l: DeadLetter) => {
      detail.replaceChildren(
        h('h3', {}, l.id),
        h(
          'dl',
          {},
          ...(
            [
              ['topic', l.topic],
              ['type', l.type],
              ['key', l.key],
              ['reason', l.reason],
              ...(l.operator ? ([['by', l.operator]] as const) : []),
              ['error code', l.error_code],
              ['error', l.last_error],
              ['attempts', String(l.attempts)],
              ['replays', String(l.replay_count)],
              ['accepted', formatTime(l.accepted_at)],
              ['first failed', formatTime(l.first_failed_at)],
              ['last failed', formatTime(l.last_failed_at)],
            ] as const
          ).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
        ),
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            {
              'data-testid': 'replay-one',
              onclick: () => replay({ ids: [l.id] }, `dead letter ${l.id}`),
            },
            'Replay',
          ),
          h('a', { href: `#/events?id=${encodeURIComponent(l.id)}` }, 'Event status →'),
        ),
        h(
          'h4',
          {},
          l.payload === null ? 'Payload (as received: the store could not hold it)' : 'Payload',
        ),
        l.payload === null
          ? h('pre', { class: 'json' }, l.payload_text ?? '(not kept: a minimal record)')
          : jsonBlock(l.payload),
      );
    };

    selectAll.addEventListener('change', () => {
      for (const l of letters) {
        if (selectAll.checked) selected.add(l.id);
        else selected.delete(l.id);
      }
      for (const box of rows.querySelectorAll<HTMLInputElement>('input[type=checkbox]')) {
        box.checked = selectAll.checked;
      }
    });

    const form = h(
      'form',
      {
        class: 'filters',
        onsubmit: (e) => {
          e.preventDefault();
          void load();
        },
      },
      type,
      reason,
      h('label', {}, 'since ', since),
      h('label', {}, 'until ', until),
      h('button', { type: 'submit' }, 'Filter'),
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'replay-selected',
          onclick: () =>
            selected.size === 0
              ? say('Select dead letters first.', 'error')
              : replay({ ids: [...selected] }, 'selected dead letters'),
        },
        'Replay selected',
      ),
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'replay-matching',
          onclick: async () => {
            const f = filter();
            const body = Object.keys(f).length > 0 ? f : { all: true };
            const dry = await postJson<BulkResult>('/api/v1/dead-letters/replay', {
              ...body,
              dry_run: true,
            }).catch((error: Error) => say(error.message, 'error'));
            if (dry && confirm(`Replay ${dry.matched} dead letter(s) matching the filter?`)) {
              await replay(body, 'matching dead letters');
            }
          },
        },
        'Replay all matching…',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          onclick: async () => {
            const f = filter();
            const body = Object.keys(f).length > 0 ? f : { all: true };
            try {
              const dry = await postJson<BulkResult>('/api/v1/dead-letters/purge', {
                ...body,
                dry_run: true,
              });
              if (!confirm(`Delete ${dry.matched} dead letter(s) for good?`)) return;
              const done = await postJson<BulkResult>('/api/v1/dead-letters/purge', body);
              say(`Purged ${done.purged ?? 0} dead letter(s).`);
              detail.replaceChildren();
              await load();
            } catch (error) {
              say((error as Error).message, 'error');
            }
          },
        },
        'Purge matching…',
      ),
    );

    el.append(
      h('h2', {}, 'Dead letters'),
      form,
      message,
      h(
        'div',
        { class: 'split' },
        h(
          'table',
          { class: 'grid', 'data-testid': 'dlq-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, selectAll),
              ...['id', 'type', 'reason', 'attempts', 'replays', 'last failed', 'error'].map((c) =>
                h('th', {}, c),
              ),
            ),
          ),
          rows,
        ),
        detail,
      ),
    );
    void load();
    const timer = setInterval(() => void load(), 5000);
    return () => clearInterval(timer);
  },
});
