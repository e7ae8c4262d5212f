/**
 * Ingest, one event per request: Herald's analytics endpoint (202 after a durable append, on
 * server PostgreSQL and on the embedded default, the PostgreSQL `herald start` runs itself)
 * against a bare node:http JSON server and a bare Fastify route with the same schema
 * validation, at 50 and 500 connections, in one run. Beside the figures: the RSS of each Herald
 * process and of its PostgreSQL, and the embedded default's first and later start times.
 */

import { resolve } from 'node:path';
import { type Contender, compareInTurns } from '../lib/compare.ts';
import { SEED_ANALYTICS } from '../lib/events.ts';
import { type HeraldTarget, startTarget } from '../lib/herald.ts';
import { type Service, sampleRss, startPeer } from '../lib/processes.ts';
import {
  type Context,
  fmt,
  type Goal,
  ratio,
  type Scenario,
  type ScenarioResult,
} from '../lib/report.ts';

const PATH = '/api/v1/events/analytics';

interface System extends Contender {
  /** Herald's database; peers have none. */
  database?: string;
  /** Another checkout's Herald, measured beside this one (BENCH_BASELINE); no goals. */
  baseline?: boolean;
}

function peer(name: string, script: string): System {
  return {
    name,
    async start() {
      const service: Service = await startPeer(name, script);
      return { url: service.url ?? '', stop: () => service.stop() };
    },
  };
}

/** What each Herald system's processes used while it was up, and its start times. */
const memory: Record<string, unknown> = {};

function herald(
  name: string,
  database: 'postgres' | 'embedded',
  // The API alone on a server; the embedded database serves one process, so API and worker
  // share it — and `herald start` on a server is the same process on the other database.
  topology: 'api' | 'start' = database === 'postgres' ? 'api' : 'start',
  heraldBin?: string,
): System {
  return {
    name,
    database,
    baseline: heraldBin !== undefined,
    // `herald start` keeps its worker busy with what it accepted after the load stops.
    background: topology === 'start',
    async start(context) {
      const target: HeraldTarget = await startTarget({
        database,
        topology,
        cpuProfDir: context.cpuProfDir,
        label: name,
        heraldBin,
        measureStarts: database === 'embedded',
      });
      const rss = sampleRss([...target.services, ...target.database_processes]);
      return {
        url: target.url,
        stop: async () => {
          memory[name] = { rss_mib: rss.stop(), start_ms: target.start_ms };
          await target.stop();
        },
        env: target.env,
      };
    },
  };
}

// BENCH_BASELINE=<another checkout of Herald, with its node_modules> adds that checkout's
// Herald to the comparison, turn by turn with this one: an A/B of a change in one run.
const BASELINE = process.env.BENCH_BASELINE;
const baselineBin = BASELINE === undefined ? undefined : resolve(BASELINE, 'bin/herald.js');

const SERVER = 'Herald api · PostgreSQL';
const EMBEDDED = 'Herald start · embedded PostgreSQL';
const START_ON_SERVER = 'Herald start · PostgreSQL server';

export const SYSTEMS: readonly System[] = [
  peer('bare node:http', 'node-http.ts'),
  peer('bare Fastify + schema', 'fastify.ts'),
  herald(SERVER, 'postgres'),
  ...(baselineBin === undefined
    ? []
    : [herald('Herald api · PostgreSQL · baseline', 'postgres', 'api', baselineBin)]),
  herald(START_ON_SERVER, 'postgres', 'start'),
  herald(EMBEDDED, 'embedded'),
  ...(baselineBin === undefined
    ? []
    : [herald(`${EMBEDDED} · baseline`, 'embedded', 'start', baselineBin)]),
];

/** The systems of the ingest comparisons, less the Herald databases not selected. */
export function selectedSystems(context: Context): System[] {
  return SYSTEMS.filter((s) => s.database === undefined || context.databases.includes(s.database));
}

export const ingestSingle: Scenario = {
  name: 'ingest-single',
  title: 'Ingest, one event per request',
  async run(context): Promise<ScenarioResult> {
    const connections = context.quick ? [50] : [50, 500];
    const durationS = context.quick ? 0.5 : 5;
    const warmupS = context.quick ? 0 : 2;
    const reps = context.quick ? 1 : 3;
    const body = JSON.stringify(SEED_ANALYTICS);
    const { results, envs } = await compareInTurns(
      context,
      selectedSystems(context),
      connections.map((c) => ({
        key: String(c),
        load: (url: string) => ({ url: `${url}${PATH}`, body, connections: c }),
      })),
      { reps, durationS, warmupS },
    );
    const rows: (string | number)[][] = [];
    for (const c of connections) {
      const floor = results['bare node:http']?.[String(c)]?.ok_per_s;
      for (const system of selectedSystems(context)) {
        const r = results[system.name]?.[String(c)];
        if (r === undefined) continue;
        rows.push([
          system.name,
          c,
          fmt(r.ok_per_s),
          r.latency_ms.p50,
          r.latency_ms.p95,
          r.latency_ms.p99,
          r.non2xx + r.errors + r.timeouts,
          ratio(r.ok_per_s, floor),
        ]);
      }
    }
    const goals: Goal[] = [];
    for (const system of selectedSystems(context)) {
      if (system.database === undefined || system.baseline) continue;
      const at50 = results[system.name]?.['50'];
      const floor = results['bare node:http']?.['50']?.ok_per_s;
      const share = at50 === undefined || floor === undefined ? undefined : at50.ok_per_s / floor;
      goals.push(
        {
          goal: `${system.name}: req/s vs bare node:http, 50 connections`,
          target: '≥ 0.5×',
          measured: ratio(at50?.ok_per_s, floor),
          met: share === undefined ? undefined : share >= 0.5,
        },
        {
          goal: `${system.name}: p99, 50 connections`,
          target: '≤ 10 ms',
          measured: at50 === undefined ? '—' : `${at50.latency_ms.p99} ms`,
          met: at50 === undefined ? undefined : at50.latency_ms.p99 <= 10,
        },
      );
      const at500 = results[system.name]?.['500'];
      goals.push({
        goal: `${system.name}: 500 concurrent connections served`,
        target: 'no errors',
        measured:
          at500 === undefined
            ? '—'
            : `${fmt(at500.ok)} × 202, ${at500.non2xx + at500.errors + at500.timeouts} failed` +
              (at500.ok === 0 ? ' (no answer in time)' : ''),
        met:
          at500 === undefined
            ? undefined
            : at500.ok > 0 && at500.non2xx + at500.errors + at500.timeouts === 0,
      });
    }
    // Issue #18: the embedded default at server speed.
    const embedded = results[EMBEDDED]?.['50'];
    const server = results[SERVER]?.['50'];
    const startOnServer = results[START_ON_SERVER]?.['50'];
    if (embedded !== undefined) {
      goals.push(
        {
          goal: `${EMBEDDED}: req/s vs ${SERVER}, 50 connections`,
          target: '≥ 0.9×',
          measured: ratio(embedded.ok_per_s, server?.ok_per_s),
          met: server === undefined ? undefined : embedded.ok_per_s / server.ok_per_s >= 0.9,
        },
        {
          // Like for like: the same process (API and worker) on the other database.
          goal: `${EMBEDDED}: req/s vs ${START_ON_SERVER}, 50 connections`,
          target: '≥ 0.9×',
          measured: ratio(embedded.ok_per_s, startOnServer?.ok_per_s),
          met:
            startOnServer === undefined
              ? undefined
              : embedded.ok_per_s / startOnServer.ok_per_s >= 0.9,
        },
        {
          goal: `${EMBEDDED}: p99, 50 connections (issue #18)`,
          target: '≤ 20 ms',
          measured: `${embedded.latency_ms.p99} ms`,
          met: embedded.latency_ms.p99 <= 20,
        },
      );
    }
    const memoryRows = Object.entries(memory).flatMap(([system, m]) => {
      const { rss_mib, start_ms } = m as {
        rss_mib: Record<string, { peak_mib: number; mean_mib: number }>;
        start_ms?: { first: number; later: number };
      };
      return Object.entries(rss_mib).map(([process, r]) => [
        system,
        process,
        fmt(r.mean_mib),
        fmt(r.peak_mib),
        start_ms === undefined ? '—' : `${fmt(start_ms.first)} / ${fmt(start_ms.later)}`,
      ]);
    });
    return {
      goals,
      config: {
        path: PATH,
        body: SEED_ANALYTICS,
        connections,
        duration_s: durationS,
        warmup_s: warmupS,
        rounds: reps,
        method:
          'all systems up at once; measurements take turns (rotating order), each figure is the median of its rounds; the embedded default (`herald start`, whose worker keeps working) is measured alone afterwards',
        load_generator: 'autocannon 9.0.0 in its own process, pipelining 1',
        herald_env: envs,
      },
      figures: { ...results, memory },
      tables: [
        {
          title: 'Ingest, one event per request (seed analytics body)',
          columns: [
            'system',
            'connections',
            'req/s (2xx)',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'non-2xx + errors',
            'vs node:http',
          ],
          rows,
        },
        {
          title: 'Memory while up (MiB; PostgreSQL as summed PSS) and start times',
          columns: ['system', 'process', 'mean', 'peak', 'first / later start ms'],
          rows: memoryRows,
        },
      ],
      notes: [
        'Herald answers 202 only after the event is committed to the raw_events log (group commit).',
        'The seed body has one user_id, so every event lands in one partition of the log.',
        'The embedded default runs `herald start` (API and worker in one process, PostgreSQL beside it): the worker and the database compete for the same two cores.',
      ],
    };
  },
};
