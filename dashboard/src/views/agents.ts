import { type AgentRun, getJson } from '../api.ts';
import { formatNumber, formatTime, h, jsonBlock } from '../dom.ts';
import { registerView } from '../views.ts';

const STATUSES = ['succeeded', 'cached', 'rejected', 'fallback', 'offline'] as const;
const REFRESH_MS = 3000;

/** The chemistry agents' runs: newest first, filtered, each one inspectable. */
registerView({
  id: 'agents',
  title: 'Agent runs',
  order: 30,
  mount(el, params) {
    const molecule = h('input', { name: 'molecule_id', placeholder: 'molecule id' });
    molecule.value = params.get('molecule_id') ?? '';
    const status = h(
      'select',
      { name: 'status', 'data-testid': 'agent-status-filter' },
      ...['', ...STATUSES].map((s) => h('option', { value: s }, s || 'any status')),
    );
    const agent = h(
      'select',
      { name: 'agent' },
      ...['', 'llm', 'offline'].map((a) => h('option', { value: a }, a || 'any agent')),
    );
    const message = h('p', { class: 'message', role: 'status' });
    const tiles = h('div', { class: 'tiles' });
    const rows = h('tbody');
    const detail = h('aside', { class: 'detail', 'data-testid': 'agent-run-detail' });
    let selected: number | undefined;

    const showRun = (run: AgentRun) => {
      selected = run.id;
      detail.replaceChildren(
        h(
          'div',
          {},
          h('h3', {}, `Run ${run.id} `, h('span', { class: `badge ${run.status}` }, run.status)),
          h(
            'dl',
            {},
            ...(
              [
                ['molecule', run.molecule_id],
                ['agent', `${run.agent} (${run.model})`],
                ['latency', `${formatNumber(run.latency_ms)} ms`],
                ['tokens', run.tokens ? formatNumber(run.tokens.total) : '—'],
                ['created', formatTime(run.created_at)],
                ['re-enrich', run.needs_reenrichment ? 'pending' : 'no'],
              ] as const
            ).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
            h('dt', {}, 'event'),
            h(
              'dd',
              {},
              h('a', { href: `#/events?id=${encodeURIComponent(run.event_id)}` }, run.event_id),
            ),
          ),
          ...(run.error
            ? [h('h4', {}, `Error ${run.error_code ?? ''}`), h('p', {}, run.error)]
            : []),
          ...(run.output ? [h('h4', {}, 'Answer'), jsonBlock(run.output)] : []),
          ...(run.raw_output ? [h('h4', {}, 'Raw model output'), jsonBlock(run.raw_output)] : []),
          h('h4', {}, 'Input'),
          jsonBlock(run.input),
        ),
      );
    };

    const tile = (label: string, value: string, testId: string) =>
      h(
        'div',
        { class: 'tile' },
        h('div', { class: 'label' }, label),
        h('div', { class: 'value', 'data-testid': testId }, value),
      );

    const load = async () => {
      const query = new URLSearchParams({ limit: '200' });
      if (molecule.value.trim()) query.set('molecule_id', molecule.value.trim());
      if (status.value) query.set('status', status.value);
      if (agent.value) query.set('agent', agent.value);
      try {
        const { runs } = await getJson<{ runs: AgentRun[] }>(`/api/v1/agents/runs?${query}`);
        const count = (s: string) => runs.filter((r) => r.status === s).length;
        const tokens = runs.reduce((sum, r) => sum + (r.tokens?.total ?? 0), 0);
        const latencies = runs.map((r) => r.latency_ms).sort((a, b) => a - b);
        const median = latencies[Math.floor(latencies.length / 2)];
        tiles.replaceChildren(
          tile('runs', formatNumber(runs.length), 'agent-runs-count'),
          tile('succeeded', formatNumber(count('succeeded') + count('cached')), 'agent-runs-ok'),
          tile(
            'offline or fallback',
            formatNumber(count('fallback') + count('offline')),
            'agent-runs-fallback',
          ),
          tile('rejected', formatNumber(count('rejected')), 'agent-runs-rejected'),
          tile('tokens', formatNumber(tokens), 'agent-runs-tokens'),
          tile(
            'median latency',
            median === undefined ? '—' : `${formatNumber(median)} ms`,
            'agent-runs-latency',
          ),
        );
        rows.replaceChildren(
          ...runs.map((run) => {
            const row = h(
              'tr',
              { 'data-id': String(run.id), onclick: () => showRun(run) },
              h('td', {}, formatTime(run.created_at)),
              h('td', { class: 'mono' }, run.molecule_id),
              h('td', {}, run.agent),
              h('td', {}, run.model),
              h('td', {}, h('span', { class: `badge ${run.status}` }, run.status)),
              h('td', { class: 'num' }, run.tokens ? formatNumber(run.tokens.total) : '—'),
              h('td', { class: 'num' }, formatNumber(run.latency_ms)),
              h('td', {}, run.error_code ?? ''),
            );
            if (run.id === selected) row.classList.add('selected');
            return row;
          }),
        );
        message.textContent =
          runs.length === 0 ? 'No agent runs match.' : `${runs.length} run(s), newest first.`;
      } catch (error) {
        message.textContent = (error as Error).message;
      }
    };

    el.append(
      h('h2', {}, 'Agent runs'),
      tiles,
      h(
        'form',
        {
          class: 'filters',
          onsubmit: (e) => {
            e.preventDefault();
            void load();
          },
        },
        molecule,
        status,
        agent,
        h('button', { type: 'submit' }, 'Filter'),
      ),
      message,
      h(
        'div',
        { class: 'split' },
        h(
          'table',
          { class: 'grid', 'data-testid': 'agent-runs' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['when', 'molecule', 'agent', 'model', 'status', 'tokens', 'ms', 'error'].map(
                (c) => h('th', {}, c),
              ),
            ),
          ),
          rows,
        ),
        detail,
      ),
    );
    status.addEventListener('change', () => void load());
    agent.addEventListener('change', () => void load());
    void load();
    // New runs appear as the agents work.
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  },
});
