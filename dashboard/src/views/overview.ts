import { getJson, getText, postJson, type Summary, type UnblockResult } from '../api.ts';
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

/** The failure-rate tile's window. */
const FAILURE_WINDOW_MS = 60_000;

/**
 * Failures as a share of what was handled over the window: the events dead-lettered in it
 * plus those retrying now (an event retrying for ever is a failure, not a 0.0 %), over the
 * events processed and dead-lettered in it plus those retrying.
 */
function failureRate(oldest: Summary, now: Summary): number {
  const dead = Math.max(0, now.dead_lettered - oldest.dead_lettered);
  const processed = Math.max(0, now.processed - oldest.processed);
  const failing = dead + now.failed;
  const handled = processed + failing;
  return handled > 0 ? (100 * failing) / handled : 0;
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
          ['failure_rate', 'Failure rate · last 60 s'],
          ['queue_depth', 'Queue depth'],
          ['e2e_p95', 'End-to-end p95'],
        ] as const
      ).map(([id, label]) => [id, tile(id, label)]),
    );
    const status = h('p', { class: 'muted', 'data-testid': 'overview-status' }, 'connecting…');
    const failureTile = stats.failure_rate?.[0];
    failureTile?.setAttribute(
      'title',
      'Dead-lettered in the last 60 s plus events retrying now, over the events processed or dead-lettered in that time plus those retrying',
    );
    const unblockMessage = h('p', {
      class: 'message',
      'data-testid': 'unblock-message',
      role: 'status',
    });
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
      unblockMessage,
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
    // Summaries of the failure-rate window, oldest first.
    const window: { at: number; summary: Summary }[] = [];
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
          if (e2eP95 !== null) set('e2e_p95', `${e2eP95} ms`);
          throughput.push(at, [accepted, processed, dead]);
          latency.push(at, [
            ms(0.5, e2eWindow),
            e2eP95,
            ms(0.99, e2eWindow),
            ms(0.95, bucketDelta(http, previous.http)),
          ]);
          failures.push(at, [failureRateOf(accepted, dead), rate(retries, previous.retries)]);
        }
        // The oldest sample kept is the last one at or before the window's start (the first
        // look, until the page has been open that long).
        window.push({ at, summary });
        while (window.length > 1 && (window[1]?.at ?? at) <= at - FAILURE_WINDOW_MS) window.shift();
        set('failure_rate', `${failureRate(window[0]?.summary ?? summary, summary).toFixed(1)} %`);
        const worst = summary.partitions.reduce((m, p) => Math.max(m, p.lag), 0);
        lag.push(at, [summary.queue_depth, worst]);
        partitions.replaceChildren(...summary.partitions.map((p) => partitionRow(p, worst)));
        previous = { at, summary, e2e, http, retries };
      } catch (error) {
        status.textContent = `cannot read the API: ${(error as Error).message}`;
      }
      if (!stopped) timer = setTimeout(tick, interval);
    };
    const partitionRow = (p: Summary['partitions'][number], worst: number) => {
      const title = p.stalled
        ? `partition ${p.partition}: stalled for ${p.stalled_for_s ?? 0} s with ${p.lag} waiting${p.head_event_id ? `, held by ${p.head_event_id}` : ''}`
        : `partition ${p.partition}: ${p.lag} behind`;
      const row = h(
        'div',
        {
          class: p.stalled ? 'partition stalled' : 'partition',
          title,
          'data-testid': `partition-${p.partition}`,
          'data-stalled': p.stalled ? 'true' : 'false',
        },
        h('span', {}, String(p.partition)),
        h('meter', { min: '0', max: String(Math.max(worst, 1)), value: String(p.lag) }),
        h(
          'span',
          {},
          p.stalled ? `${p.lag} · stalled ${Math.round(p.stalled_for_s ?? 0)} s` : String(p.lag),
        ),
      );
      const head = p.head_event_id;
      if (p.stalled && head !== undefined) {
        row.append(
          h(
            'button',
            {
              class: 'danger',
              'data-testid': `unblock-${p.partition}`,
              title: `dead-letter ${head}, the event holding partition ${p.partition}`,
              onclick: () => void unblock(p.partition, head),
            },
            'Dead-letter head…',
          ),
        );
      }
      return row;
    };

    const unblock = async (partition: number, eventId: string) => {
      const path = `/api/v1/partitions/${partition}/dead-letter-head`;
      const say = (text: string, kind: 'ok' | 'error') => {
        unblockMessage.textContent = text;
        unblockMessage.className = `message ${kind}`;
      };
      try {
        const dry = await postJson<UnblockResult>(path, { event_id: eventId, dry_run: true });
        if (
          !confirm(`Dead-letter ${eventId}? It holds partition ${partition} (${dry.lag} waiting).`)
        )
          return;
        const done = await postJson<UnblockResult>(path, { event_id: eventId });
        say(`Asked to dead-letter ${done.event_id}: ${done.detail}.`, 'ok');
      } catch (error) {
        say((error as Error).message, 'error');
      }
    };

    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      for (const chart of [throughput, latency, lag, failures]) chart.destroy();
    };
  },
});
