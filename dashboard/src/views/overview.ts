import { getJson, getText, type Summary } from '../api.ts';
import { LiveChart } from '../chart.ts';
import { formatNumber, h } from '../dom.ts';
import { bucketDelta, histogramBuckets, parseMetrics, quantile, type Sample } from '../prom.ts';
import { registerView } from '../views.ts';

interface Previous {
  at: number;
  summary: Summary;
  e2e: Map<number, number>;
  http: Map<number, number>;
  retries: number;
}

const isIngest = (labels: Record<string, string>) =>
  labels.method === 'POST' && /^\/(api\/v1\/)?events/.test(labels.route ?? '');

function sum(samples: readonly Sample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((total, s) => total + s.value, 0);
}

function tile(id: string, label: string): [HTMLElement, HTMLElement] {
  const value = h('div', { class: 'value', 'data-testid': `stat-${id}` }, '—');
  return [h('div', { class: 'tile' }, h('div', { class: 'label' }, label), value), value];
}

registerView({
  id: 'overview',
  title: 'Overview',
  order: 0,
  mount(el, params) {
    const interval = Number(params.get('interval') ?? 1000);
    const stats = Object.fromEntries(
      (
        [
          ['accepted', 'Accepted'],
          ['processed', 'Processed'],
          ['throughput', 'Processed / s'],
          ['dead_lettered', 'Dead letters'],
          ['failing', 'Failing (retrying)'],
          ['failure_rate', 'Failure rate'],
          ['queue_depth', 'Queue depth'],
          ['e2e_p95', 'End-to-end p95'],
        ] as const
      ).map(([id, label]) => [id, tile(id, label)]),
    );
    const status = h('p', { class: 'muted', 'data-testid': 'overview-status' }, 'connecting…');
    const charts = ['throughput', 'latency', 'lag', 'failures'].map((id) =>
      h('div', { class: 'chart', id: `chart-${id}` }),
    );
    const partitions = h('div', { class: 'partitions', 'data-testid': 'partitions' });
    el.append(
      h('section', { class: 'tiles' }, ...Object.values(stats).map(([t]) => t)),
      status,
      h('section', { class: 'charts' }, ...charts),
      h('h3', {}, 'Consumer lag by partition'),
      partitions,
    );
    const [throughputEl, latencyEl, lagEl, failuresEl] = charts as unknown as [
      HTMLElement,
      HTMLElement,
      HTMLElement,
      HTMLElement,
    ];
    const throughput = new LiveChart(
      throughputEl,
      'Throughput',
      ['accepted/s', 'processed/s', 'dead-lettered/s'],
      'events/s',
    );
    const latency = new LiveChart(
      latencyEl,
      'Latency',
      ['end-to-end p50', 'end-to-end p95', 'end-to-end p99', 'ingest HTTP p95'],
      'ms',
    );
    const lag = new LiveChart(
      lagEl,
      'Consumer lag',
      ['queue depth', 'max partition lag'],
      'events',
    );
    const failures = new LiveChart(
      failuresEl,
      'Failures',
      ['dead-lettered % of accepted', 'retries/s'],
      '% · /s',
    );

    let previous: Previous | undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const set = (id: string, text: string) => {
      const value = stats[id]?.[1];
      if (value !== undefined) value.textContent = text;
    };

    const tick = async () => {
      try {
        const [summary, text] = await Promise.all([
          getJson<Summary>('/metrics/summary'),
          getText('/metrics').catch(() => ''),
        ]);
        const at = Date.now();
        const samples = parseMetrics(text);
        const e2e = histogramBuckets(samples, 'herald_event_end_to_end_seconds');
        const http = histogramBuckets(samples, 'herald_http_request_duration_seconds', isIngest);
        const retries = sum(samples, 'herald_events_retried_total');
        const failureRateOf = (accepted: number, dead: number) =>
          accepted > 0 ? (100 * dead) / accepted : 0;

        set('accepted', formatNumber(summary.accepted));
        set('processed', formatNumber(summary.processed));
        set('dead_lettered', formatNumber(summary.dead_lettered));
        set('failing', formatNumber(summary.failed));
        set('queue_depth', formatNumber(summary.queue_depth));
        status.textContent = `${summary.broker} broker · ${summary.database} database · since ${new Date(summary.started_at).toLocaleString()}`;

        if (previous !== undefined) {
          const dt = Math.max((at - previous.at) / 1000, 0.001);
          const rate = (now: number, before: number) => Math.max(0, (now - before) / dt);
          const accepted = rate(summary.accepted, previous.summary.accepted);
          const processed = rate(summary.processed, previous.summary.processed);
          const dead = rate(summary.dead_lettered, previous.summary.dead_lettered);
          const e2eWindow = bucketDelta(e2e, previous.e2e);
          const ms = (q: number, buckets: Map<number, number>) => {
            const v = quantile(q, buckets);
            return v === null ? null : Math.round(v * 10000) / 10;
          };
          const e2eP95 = ms(0.95, e2eWindow);
          set('throughput', formatNumber(processed));
          set('failure_rate', `${failureRateOf(accepted, dead).toFixed(1)} %`);
          if (e2eP95 !== null) set('e2e_p95', `${e2eP95} ms`);
          throughput.push(at, [accepted, processed, dead]);
          latency.push(at, [
            ms(0.5, e2eWindow),
            e2eP95,
            ms(0.99, e2eWindow),
            ms(0.95, bucketDelta(http, previous.http)),
          ]);
          failures.push(at, [failureRateOf(accepted, dead), rate(retries, previous.retries)]);
        } else {
          set(
            'failure_rate',
            `${failureRateOf(summary.accepted, summary.dead_lettered).toFixed(1)} %`,
          );
        }
        const worst = summary.partitions.reduce((m, p) => Math.max(m, p.lag), 0);
        lag.push(at, [summary.queue_depth, worst]);
        partitions.replaceChildren(
          ...summary.partitions.map((p) =>
            h(
              'div',
              { class: 'partition', title: `partition ${p.partition}: ${p.lag} behind` },
              h('span', {}, String(p.partition)),
              h('meter', { min: '0', max: String(Math.max(worst, 1)), value: String(p.lag) }),
              h('span', {}, String(p.lag)),
            ),
          ),
        );
        previous = { at, summary, e2e, http, retries };
      } catch (error) {
        status.textContent = `cannot read the API: ${(error as Error).message}`;
      }
      if (!stopped) timer = setTimeout(tick, interval);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      for (const chart of [throughput, latency, lag, failures]) chart.destroy();
    };
  },
});
