/**
 * Ingest, batches of 100 and 1,000 events per request to POST /api/v1/events/batch: events/s
 * accepted (each 202 after the whole batch is durable), against the bare servers in one run.
 */

import { compareInTurns } from '../lib/compare.ts';
import { batchBody } from '../lib/events.ts';
import type { LoadResult } from '../lib/load.ts';
import {
  type Context,
  fmt,
  type Goal,
  ratio,
  type Scenario,
  type ScenarioResult,
} from '../lib/report.ts';
import { selectedSystems } from './ingest-single.ts';

const PATH = '/api/v1/events/batch';

export const ingestBatch: Scenario = {
  name: 'ingest-batch',
  title: 'Ingest, batches of events',
  async run(context: Context): Promise<ScenarioResult> {
    const sizes = [100, 1000];
    const connections = context.quick ? 4 : 16;
    const durationS = context.quick ? 0.5 : 5;
    const warmupS = context.quick ? 0 : 2;
    const reps = context.quick ? 1 : 3;
    const compared = await compareInTurns(
      context,
      selectedSystems(context),
      sizes.map((size) => {
        const body = batchBody(size);
        return {
          key: String(size),
          load: (url: string) => ({ url: `${url}${PATH}`, body, connections }),
        };
      }),
      { reps, durationS, warmupS },
    );
    const envs = compared.envs;
    const results: Record<string, Record<string, LoadResult & { events_per_s: number }>> = {};
    for (const [system, bySize] of Object.entries(compared.results)) {
      const mine: Record<string, LoadResult & { events_per_s: number }> = {};
      for (const [size, result] of Object.entries(bySize)) {
        mine[size] = { ...result, events_per_s: Math.round(result.ok_per_s * Number(size)) };
      }
      results[system] = mine;
    }
    const rows: (string | number)[][] = [];
    for (const size of sizes) {
      const floor = results['bare node:http']?.[String(size)]?.events_per_s;
      for (const system of selectedSystems(context)) {
        const r = results[system.name]?.[String(size)];
        if (r === undefined) continue;
        rows.push([
          system.name,
          size,
          fmt(r.events_per_s),
          fmt(r.ok_per_s),
          r.latency_ms.p50,
          r.latency_ms.p99,
          r.non2xx + r.errors + r.timeouts,
          ratio(r.events_per_s, floor),
        ]);
      }
    }
    const goals: Goal[] = selectedSystems(context)
      .filter((system) => system.database !== undefined && !system.baseline)
      .map((system) => {
        const best = Math.max(
          ...sizes.map((size) => results[system.name]?.[String(size)]?.events_per_s ?? 0),
        );
        const measured = sizes
          .map((size) => `×${size}: ${fmt(results[system.name]?.[String(size)]?.events_per_s)}`)
          .join(', ');
        return {
          goal: `${system.name}: batch ingest events/s`,
          target: '≥ 200,000',
          measured,
          met: results[system.name] === undefined ? undefined : best >= 200_000,
        };
      });
    return {
      goals,
      config: {
        path: PATH,
        batch_sizes: sizes,
        connections,
        duration_s: durationS,
        warmup_s: warmupS,
        rounds: reps,
        method:
          'all systems up at once; measurements take turns (rotating order), each figure is the median of its rounds; the embedded default measured alone afterwards',
        body: '{"events": [...]} of analytics events, 1,000 distinct user_ids',
        load_generator: 'autocannon 9.0.0 in its own process, pipelining 1',
        herald_env: envs,
      },
      figures: results,
      tables: [
        {
          title: `Ingest, batches (${connections} connections)`,
          columns: [
            'system',
            'events/request',
            'events/s',
            'req/s',
            'p50 ms',
            'p99 ms',
            'non-2xx + errors',
            'vs node:http',
          ],
          rows,
        },
      ],
      notes: [
        'The bare servers parse the JSON (Fastify also validates each item) and store nothing.',
        'Herald validates each item, appends the batch to the log in one statement and answers after the commit.',
      ],
    };
  },
};
