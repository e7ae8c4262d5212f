/**
 * Ingest with event contracts (issue #21): the same Herald API on server PostgreSQL with and
 * without a registered schema for every event type it receives, one event per request and in
 * batches of 1,000, measured in turns in one run. Goal: checking every event against its
 * schema keeps ≥ 0.9× the throughput of not checking.
 */

import { compareInTurns } from '../lib/compare.ts';
import { batchBody, SEED_ANALYTICS } from '../lib/events.ts';
import { startTarget } from '../lib/herald.ts';
import {
  type Context,
  fmt,
  type Goal,
  ratio,
  type Scenario,
  type ScenarioResult,
} from '../lib/report.ts';

/** A contract of the kind teams write: required fields, an enum, a pattern, bounds. */
export const BENCH_CONTRACT = {
  type: 'object',
  required: ['page', 'source'],
  properties: {
    page: { type: 'string', pattern: '^/', maxLength: 200 },
    source: { enum: ['web', 'ios', 'android'] },
    n: { type: 'integer', minimum: 0 },
  },
};

/** The event types the bench events carry (bench/lib/events.ts). */
const TYPES = ['page_view', 'click', 'purchase', 'signup'];

function system(name: string, withContracts: boolean) {
  return {
    name,
    async start(context: Context) {
      const target = await startTarget({
        database: 'postgres',
        topology: 'api',
        cpuProfDir: context.cpuProfDir,
        label: name,
      });
      if (withContracts) {
        for (const type of TYPES) {
          const response = await fetch(`${target.url}/api/v1/schemas/${type}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ schema: BENCH_CONTRACT }),
          });
          if (!response.ok) {
            await target.stop();
            throw new Error(`registering ${type}: ${response.status} ${await response.text()}`);
          }
        }
      }
      return { url: target.url, stop: () => target.stop(), env: target.env };
    },
  };
}

const PLAIN = 'Herald api · PostgreSQL · no schemas';
const CHECKED = 'Herald api · PostgreSQL · every event checked';

export const ingestContracts: Scenario = {
  name: 'ingest-contracts',
  title: 'Ingest with event contracts',
  async run(context): Promise<ScenarioResult> {
    const durationS = context.quick ? 0.5 : 5;
    const warmupS = context.quick ? 0 : 2;
    const reps = context.quick ? 1 : 3;
    const single = JSON.stringify(SEED_ANALYTICS);
    const batch = batchBody(1000);
    const settings = [
      {
        key: 'single',
        events: 1,
        load: (url: string) => ({
          url: `${url}/api/v1/events/analytics`,
          body: single,
          connections: 50,
        }),
      },
      {
        key: 'batch-1000',
        events: 1000,
        load: (url: string) => ({
          url: `${url}/api/v1/events/batch`,
          body: batch,
          connections: context.quick ? 4 : 16,
        }),
      },
    ];
    const { results, envs } = await compareInTurns(
      context,
      [system(PLAIN, false), system(CHECKED, true)],
      settings,
      { reps, durationS, warmupS },
    );
    const rows: (string | number)[][] = [];
    const goals: Goal[] = [];
    for (const setting of settings) {
      const plain = results[PLAIN]?.[setting.key];
      const checked = results[CHECKED]?.[setting.key];
      for (const [name, r] of [
        [PLAIN, plain],
        [CHECKED, checked],
      ] as const) {
        if (r === undefined) continue;
        rows.push([
          name,
          setting.key,
          fmt(r.ok_per_s * setting.events),
          r.latency_ms.p50,
          r.latency_ms.p99,
          r.non2xx + r.errors + r.timeouts,
          ratio(r.ok_per_s, plain?.ok_per_s),
        ]);
      }
      const share =
        plain === undefined || checked === undefined || plain.ok_per_s === 0
          ? undefined
          : checked.ok_per_s / plain.ok_per_s;
      goals.push({
        goal: `events/s with every event checked vs none (${setting.key})`,
        target: '≥ 0.9×',
        measured: ratio(checked?.ok_per_s, plain?.ok_per_s),
        met: share === undefined ? undefined : share >= 0.9,
      });
    }
    return {
      goals,
      config: {
        contract: BENCH_CONTRACT,
        types: TYPES,
        duration_s: durationS,
        warmup_s: warmupS,
        rounds: reps,
        method:
          'two `herald api` processes (fresh schemas), one with a contract for every event type sent; measurements take turns, each figure the median of its rounds',
        herald_env: envs,
      },
      figures: results,
      tables: [
        {
          title: 'Ingest with and without event contracts',
          columns: [
            'system',
            'request',
            'events/s (2xx)',
            'p50 ms',
            'p99 ms',
            'non-2xx + errors',
            'vs no schemas',
          ],
          rows,
        },
      ],
      notes: [
        'Every event of the checked system matches its contract (a violation would be a 422, counted as non-2xx).',
        'Validators are compiled once per schema version; patterns run on RE2 (re2js).',
      ],
    };
  },
};
