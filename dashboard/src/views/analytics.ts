import { getJson } from '../api.ts';
import { LiveChart } from '../chart.ts';
import { formatNumber, h, jsonBlock } from '../dom.ts';
import { registerView } from '../views.ts';

const RANGES = [
  ['1h', 'last hour', 3_600_000, 'minute'],
  ['24h', 'last 24 hours', 86_400_000, 'hour'],
  ['7d', 'last 7 days', 7 * 86_400_000, 'hour'],
  ['30d', 'last 30 days', 30 * 86_400_000, 'day'],
] as const;

// The answers of /api/v1/analytics/* (see the OpenAPI document at /docs), as far as shown here.
interface AnalyticsOverview {
  totals: { processed: number };
  ingest_rate: { per_second_5m: number };
  failure_rate: { last_hour: number };
}

interface AnalyticsSeries {
  from: string;
  to: string;
  total: number;
  buckets: { start: string; count: number }[];
}

interface AnalyticsTop {
  items: { value: string; count: number }[];
}

interface Funnel {
  steps: { type: string; users: number; conversion: number; from_previous: number }[];
}

const percent = (share: number) => `${(share * 100).toFixed(1)} %`;

/** Analytics over what the workers persisted: series, top-N, funnel, user lookup. */
registerView({
  id: 'analytics',
  title: 'Analytics',
  order: 25,
  mount(el, params) {
    const tiles = h('section', { class: 'tiles' });
    const type = h('input', { name: 'type', placeholder: 'event type (all)' });
    type.value = params.get('type') ?? '';
    const range = h(
      'select',
      { name: 'range', 'data-testid': 'analytics-range' },
      ...RANGES.map(([id, label]) => h('option', { value: id }, label)),
    );
    range.value = params.get('range') ?? '24h';
    const message = h('p', { class: 'message', role: 'status' });
    const chartEl = h('div', { class: 'chart', 'data-testid': 'analytics-chart' });
    const tops = h('section', { class: 'split', 'data-testid': 'analytics-top' });
    let chart: LiveChart | undefined;

    const steps = h('input', { name: 'steps', placeholder: 'signup,add_to_cart,purchase' });
    const windowSeconds = h('input', { name: 'window', type: 'number', value: '3600', min: '1' });
    const funnelResult = h('div', { 'data-testid': 'analytics-funnel' });
    const user = h('input', { name: 'user_id', placeholder: 'user id' });
    const userResult = h('div', { 'data-testid': 'analytics-user' });

    const tile = (label: string, value: string, testId: string) =>
      h(
        'div',
        { class: 'tile' },
        h('div', { class: 'label' }, label),
        h('div', { class: 'value', 'data-testid': testId }, value),
      );

    const topTable = (title: string, top: AnalyticsTop) =>
      h(
        'table',
        { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', {}, title), h('th', { class: 'num' }, 'events'))),
        h(
          'tbody',
          {},
          ...top.items.map((item) =>
            h(
              'tr',
              {},
              h('td', {}, item.value),
              h('td', { class: 'num' }, formatNumber(item.count)),
            ),
          ),
        ),
      );

    const load = async () => {
      const [id, , spanMs, interval] = RANGES.find(([r]) => r === range.value) ?? RANGES[1];
      const to = new Date();
      const from = new Date(to.getTime() - spanMs);
      const span = `from=${from.toISOString()}&to=${to.toISOString()}`;
      const typed = type.value.trim() ? `&type=${encodeURIComponent(type.value.trim())}` : '';
      try {
        const [overview, series, ...top] = await Promise.all([
          getJson<AnalyticsOverview>('/api/v1/analytics/overview'),
          getJson<AnalyticsSeries>(`/api/v1/analytics/events?interval=${interval}&${span}${typed}`),
          ...(['type', 'page', 'source'] as const).map((by) =>
            getJson<AnalyticsTop>(`/api/v1/analytics/top?by=${by}&limit=10&${span}`),
          ),
        ]);
        tiles.replaceChildren(
          tile('Processed', formatNumber(overview.totals.processed), 'analytics-processed'),
          tile(
            'Ingest / s (5 min)',
            formatNumber(overview.ingest_rate.per_second_5m),
            'analytics-rate',
          ),
          tile(
            'Failure rate (1 h)',
            percent(overview.failure_rate.last_hour),
            'analytics-failures',
          ),
          tile(`Events, ${id}`, formatNumber(series.total), 'analytics-range-total'),
        );
        chart?.destroy();
        chartEl.replaceChildren();
        chart = new LiveChart(
          chartEl,
          `Events per ${interval}${typed ? ` · ${type.value.trim()}` : ''}`,
          ['events'],
          'events',
          series.buckets.length,
        );
        for (const bucket of series.buckets) chart.push(Date.parse(bucket.start), [bucket.count]);
        const [types, pages, sources] = top as [AnalyticsTop, AnalyticsTop, AnalyticsTop];
        tops.replaceChildren(
          topTable('event type', types),
          topTable('page', pages),
          topTable('source', sources),
        );
        message.textContent = `${series.from} → ${series.to} (UTC buckets)`;
      } catch (error) {
        message.textContent = `cannot read analytics: ${(error as Error).message}`;
      }
    };

    const runFunnel = async (event: Event) => {
      event.preventDefault();
      const [, , spanMs] = RANGES.find(([r]) => r === range.value) ?? RANGES[1];
      const to = new Date();
      const query = new URLSearchParams({
        steps: steps.value,
        window: windowSeconds.value,
        from: new Date(to.getTime() - Math.min(spanMs, 31 * 86_400_000)).toISOString(),
        to: to.toISOString(),
      });
      try {
        const funnel = await getJson<Funnel>(`/api/v1/analytics/funnel?${query}`);
        funnelResult.replaceChildren(
          h(
            'table',
            { class: 'grid' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'step'),
                h('th', { class: 'num' }, 'users'),
                h('th', { class: 'num' }, 'of first'),
                h('th', { class: 'num' }, 'of previous'),
              ),
            ),
            h(
              'tbody',
              {},
              ...funnel.steps.map((s) =>
                h(
                  'tr',
                  {},
                  h('td', {}, s.type),
                  h('td', { class: 'num' }, formatNumber(s.users)),
                  h('td', { class: 'num' }, percent(s.conversion)),
                  h('td', { class: 'num' }, percent(s.from_previous)),
                ),
              ),
            ),
          ),
        );
      } catch (error) {
        funnelResult.replaceChildren(h('p', { class: 'error-text' }, (error as Error).message));
      }
    };

    const lookUpUser = async (event: Event) => {
      event.preventDefault();
      try {
        const summary = await getJson<Record<string, unknown>>(
          `/api/v1/analytics/user/${encodeURIComponent(user.value.trim())}`,
        );
        userResult.replaceChildren(jsonBlock(summary));
      } catch (error) {
        userResult.replaceChildren(h('p', { class: 'error-text' }, (error as Error).message));
      }
    };

    el.append(
      tiles,
      h(
        'form',
        {
          class: 'filters',
          onsubmit: (event: Event) => {
            event.preventDefault();
            void load();
          },
        },
        type,
        range,
        h('button', { type: 'submit' }, 'Show'),
      ),
      message,
      chartEl,
      tops,
      h('h3', {}, 'Funnel'),
      h(
        'form',
        { class: 'filters', onsubmit: runFunnel },
        steps,
        windowSeconds,
        h('button', { type: 'submit' }, 'Run'),
      ),
      funnelResult,
      h('h3', {}, 'User'),
      h(
        'form',
        { class: 'filters', onsubmit: lookUpUser },
        user,
        h('button', { type: 'submit' }, 'Look up'),
      ),
      userResult,
    );
    range.addEventListener('change', () => void load());
    void load();
    return () => chart?.destroy();
  },
});
