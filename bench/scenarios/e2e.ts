/**
 * End to end, accepted → persisted: Herald's API and worker as separate processes on server
 * PostgreSQL over each selected broker (`--broker postgres,redis,kafka`), and `herald start` on
 * the embedded default (the PostgreSQL Herald runs itself). Sustained events/s, accepted →
 * persisted latency at fixed offered rates, the RSS of Herald and of its PostgreSQL, and for the
 * embedded default its first (initdb included) and later start times.
 */
import { insertCeiling, type Measured } from '../lib/ceilings.ts';
import { type AtRate, atRate, type Sustained, sustained, warmUp } from '../lib/e2e.ts';
import { brokerSupported, type DatabaseKind, startTarget, type Topology } from '../lib/herald.ts';
import { sampleRss } from '../lib/processes.ts';
import {
  type Context,
  fmt,
  type Goal,
  ratio,
  type Scenario,
  type ScenarioResult,
} from '../lib/report.ts';

interface Setup {
  database: DatabaseKind;
  topology: Topology;
  broker: string;
  events: number;
}

export const RATES = [1000, 10000];

export const e2e: Scenario = {
  name: 'e2e',
  title: 'End to end: accepted → persisted',
  async run(context: Context): Promise<ScenarioResult> {
    const durationS = context.quick ? 1 : 10;
    const setups: Setup[] = [];
    const notes: string[] = [];
    for (const broker of context.databases.includes('postgres') ? context.brokers : []) {
      const supported = broker === 'postgres' ? { ok: true, reason: '' } : brokerSupported(broker);
      if (!supported.ok) {
        notes.push(
          `BROKER=${broker} skipped: this Herald does not accept it (${supported.reason}).`,
        );
        context.log(`broker ${broker} skipped: ${supported.reason}`);
        continue;
      }
      setups.push({
        database: 'postgres',
        topology: 'api+worker',
        broker,
        events: context.quick ? 2000 : 200_000,
      });
    }
    if (context.brokers.includes('postgres') && context.databases.includes('embedded')) {
      setups.push({
        database: 'embedded',
        topology: 'start',
        broker: 'postgres',
        events: context.quick ? 2000 : 100_000,
      });
    }

    const figures: Record<string, unknown> = {};
    const throughputRows: (string | number)[][] = [];
    const goals: Goal[] = [];
    const latencyRows: (string | number)[][] = [];
    const envs: Record<string, unknown> = {};
    for (const setup of setups) {
      const target = await startTarget({
        ...setup,
        cpuProfDir: context.cpuProfDir,
        measureStarts: setup.database === 'embedded',
      });
      envs[target.label] = target.env;
      const rss = sampleRss([...target.services, ...target.database_processes]);
      try {
        const warm = await warmUp(target);
        context.log(`${target.label}: warm-up batch persisted in ${warm} ms`);
        const rates: AtRate[] = [];
        for (const rate of RATES) {
          context.log(`${target.label}: ${rate} events/s offered for ${durationS} s`);
          const r = await atRate(target, rate, durationS);
          rates.push(r);
          context.log(`  → p50 ${r.latency_ms.p50} ms, p99 ${r.latency_ms.p99} ms`);
        }
        // The direct batched INSERT of as many rows, just before: the ratio's floor, measured
        // next to the run it judges (the machine's load moves from minute to minute).
        let ceiling: Measured | undefined;
        if (setup.database === 'postgres') {
          context.log(`direct batched INSERT of ${setup.events} rows`);
          ceiling = await insertCeiling(setup.events, 1000, 2);
          context.log(`  → ${fmt(ceiling.events_per_s)} events/s`);
          throughputRows.push([
            `${ceiling.system}, before ${setup.broker}`,
            fmt(ceiling.events),
            fmt(ceiling.seconds),
            fmt(ceiling.events_per_s),
            '—',
            '—',
          ]);
        }
        context.log(`${target.label}: ${setup.events} events as fast as accepted`);
        const s: Sustained = await sustained(target, setup.events);
        context.log(`  → ${fmt(s.events_per_s)} events/s persisted`);
        const memory = rss.stop();
        figures[target.label] = {
          ...setup,
          ...(target.start_ms === undefined ? {} : { start_ms: target.start_ms }),
          warm_up_ms: warm,
          sustained: s,
          ceiling,
          rates,
          rss_mib: memory,
        };
        throughputRows.push([
          target.label,
          fmt(s.events),
          fmt(s.seconds),
          fmt(s.events_per_s) + (s.completed ? '' : ' (timed out)'),
          fmt(s.ingest_events_per_s),
          Object.entries(memory)
            .map(([name, m]) => `${name} ${fmt(m.peak_mib)}`)
            .join(', '),
        ]);
        const server = setup.database === 'postgres';
        if (!server) {
          goals.push(...embeddedGoals(target.label, s, memory, target.start_ms, figures));
        }
        const floor = server ? 50_000 : 20_000;
        if (server ? setup.broker !== 'redis' : true) {
          goals.push({
            goal: `${target.label}: sustained events/s persisted`,
            target: `≥ ${fmt(floor)}`,
            measured: fmt(s.events_per_s),
            met: s.completed && s.events_per_s >= floor,
          });
        }
        if (server && ceiling !== undefined) {
          goals.push({
            goal: `${target.label}: vs direct batched INSERT`,
            target: '≥ 0.5×',
            measured: ratio(s.events_per_s, ceiling.events_per_s),
            met: s.events_per_s / ceiling.events_per_s >= 0.5,
          });
        }
        const at10k = rates.find((r) => r.offered_events_per_s === 10_000);
        if (server && at10k !== undefined) {
          goals.push({
            goal: `${target.label}: p99 accepted → persisted at 10k events/s offered`,
            target: '< 50 ms',
            measured: `${at10k.latency_ms.p99} ms${at10k.completed ? '' : ' (fell behind)'}`,
            met: at10k.completed && at10k.latency_ms.p99 < 50,
          });
        }
        for (const r of rates) {
          latencyRows.push([
            target.label,
            fmt(r.offered_events_per_s),
            `${r.requests_per_s} × ${r.events_per_request}`,
            r.latency_ms.p50,
            r.latency_ms.p95,
            r.latency_ms.p99,
            r.completed ? 'yes' : 'no (fell behind)',
            r.http.latency_ms.p99,
          ]);
        }
      } finally {
        rss.stop();
        await target.stop();
      }
    }
    notes.push(
      'Before measuring, one batch of 200 events is sent and waited for (warm_up_ms): every consumer has joined and holds its partitions when the fixed-rate runs start.',
      'Sustained: events published as batches of 1,000 over 4 connections; timed from the first request to the last event persisted.',
      'Latency: processed_at − accepted_at of each row (accepted_at = the append transaction, processed_at = when the worker began the batch; the batch INSERT itself is not included), on the server and on the embedded cluster alike.',
      'RSS: Herald processes from /proc/<pid>/status VmRSS; PostgreSQL as the summed PSS of its processes (shared buffers counted once). The server figure is the whole machine server, shared with anything else using it.',
      'Embedded start times: from spawning `herald start` to its API listening, on a fresh DATA_DIR (initdb included) and again on the same DATA_DIR.',
      'AGENTS_ENABLED=false (no chemical events are sent; the agents would only add a second consumer group).',
    );
    return {
      goals,
      config: {
        setups,
        ceiling: 'INSERT … SELECT FROM unnest(typed arrays), 1,000 rows a statement, 2 connections',
        rates: RATES,
        rate_duration_s: durationS,
        rate_shape: '100 requests/s, each a batch of rate/100 events, 32 connections',
        sustained: { batch: 1000, connections: 4 },
        herald_env: envs,
      },
      figures,
      tables: [
        {
          title: 'End to end, sustained (accepted → persisted on the server)',
          columns: [
            'setup',
            'events',
            'seconds',
            'persisted events/s',
            'accepted events/s',
            'peak RSS MiB',
          ],
          rows: throughputRows,
        },
        {
          title: 'End to end latency at a fixed offered rate (ms)',
          columns: [
            'setup',
            'offered events/s',
            'req/s × events',
            'p50',
            'p95',
            'p99',
            'kept up',
            '202 p99',
          ],
          rows: latencyRows,
        },
      ],
      notes,
    };
  },
};

const SERVER_LABEL = 'herald api+worker · postgres · postgres queue';

/** Issue #18's goals for `herald start` on the embedded default, beside the server setup. */
function embeddedGoals(
  label: string,
  s: Sustained,
  memory: Record<string, { peak_mib: number }>,
  startMs: { first: number; later: number } | undefined,
  figures: Record<string, unknown>,
): Goal[] {
  const server = (figures[SERVER_LABEL] as { sustained?: Sustained } | undefined)?.sustained;
  const heraldPeak = memory.start?.peak_mib;
  const mb = (mib: number) => (mib * 2 ** 20) / 1e6;
  return [
    {
      goal: `${label}: sustained events/s vs ${SERVER_LABEL}`,
      target: '≥ 0.9×',
      measured: ratio(s.events_per_s, server?.events_per_s),
      met: server === undefined ? undefined : s.events_per_s / server.events_per_s >= 0.9,
    },
    {
      goal: `${label}: Herald process peak RSS under load`,
      target: '< 250 MB',
      measured: heraldPeak === undefined ? '—' : `${fmt(mb(heraldPeak))} MB`,
      met: heraldPeak === undefined ? undefined : mb(heraldPeak) < 250,
    },
    {
      goal: `${label}: first start (initdb included) until the API listens`,
      target: '≤ 10 s',
      measured: startMs === undefined ? '—' : `${fmt(startMs.first / 1000)} s`,
      met: startMs === undefined ? undefined : startMs.first <= 10_000,
    },
    {
      goal: `${label}: later start until the API listens`,
      target: '≤ 3 s',
      measured: startMs === undefined ? '—' : `${fmt(startMs.later / 1000)} s`,
      met: startMs === undefined ? undefined : startMs.later <= 3_000,
    },
  ];
}
