/**
 * Memory: resident set size of Herald's processes under load (sampled from /proc/<pid>/status
 * every 250 ms): `herald api` and `herald worker` on server PostgreSQL, and `herald start` on
 * the embedded default (its PostgreSQL reported beside it), through single events at 500
 * connections and then batches until all are persisted.
 */
import { batchBody, SEED_ANALYTICS } from '../lib/events.ts';
import { type DatabaseKind, startTarget, type Topology } from '../lib/herald.ts';
import { runLoad } from '../lib/load.ts';
import { waitForCount } from '../lib/postgres.ts';
import { sampleRss } from '../lib/processes.ts';
import { type Context, fmt, type Goal, type Scenario, type ScenarioResult } from '../lib/report.ts';

export const memory: Scenario = {
  name: 'memory',
  title: 'Memory under load',
  async run(context: Context): Promise<ScenarioResult> {
    const durationS = context.quick ? 1 : 15;
    const batches = context.quick ? 5 : 200;
    const setups = (
      [
        { database: 'postgres', topology: 'api+worker' },
        { database: 'embedded', topology: 'start' },
      ] satisfies { database: DatabaseKind; topology: Topology }[]
    ).filter((s) => context.databases.includes(s.database));
    const figures: Record<string, unknown> = {};
    const rows: (string | number)[][] = [];
    const goals: Goal[] = [];
    for (const setup of setups) {
      const target = await startTarget({ ...setup, cpuProfDir: context.cpuProfDir });
      try {
        const watched = [...target.services, ...target.database_processes];
        const idle = Object.fromEntries(watched.map((s) => [s.name, s.rssMiB()]));
        const single = sampleRss(watched);
        await runLoad({
          url: `${target.url}/api/v1/events/analytics`,
          body: JSON.stringify(SEED_ANALYTICS),
          connections: 500,
          durationS,
        });
        const singleRss = single.stop();
        const before = await target.processedCount();
        const batch = sampleRss(watched);
        const load = await runLoad({
          url: `${target.url}/api/v1/events/batch`,
          body: batchBody(1000),
          connections: 8,
          amount: batches,
        });
        await waitForCount(() => target.processedCount(), before + load.ok * 1000, 180_000, 250);
        const batchRss = batch.stop();
        figures[target.label] = { idle_mib: idle, single_500: singleRss, batches: batchRss };
        for (const service of watched) {
          const a = singleRss[service.name];
          const b = batchRss[service.name];
          const peak = Math.max(a?.peak_mib ?? 0, b?.peak_mib ?? 0);
          // The goal is Herald's; its PostgreSQL is reported beside it.
          if (target.services.includes(service as (typeof target.services)[number]))
            goals.push({
              goal: `${target.label}: ${service.name} peak RSS under load`,
              target: '< 300 MB',
              // MiB from /proc → MB (the goal's unit).
              measured: `${fmt((peak * 2 ** 20) / 1e6)} MB`,
              met: peak > 0 ? (peak * 2 ** 20) / 1e6 < 300 : undefined,
            });
          rows.push([
            `${target.label}: ${service.name}`,
            fmt(idle[service.name]),
            fmt(a?.peak_mib),
            fmt(b?.peak_mib),
            fmt(Math.max(a?.peak_mib ?? 0, b?.peak_mib ?? 0)),
          ]);
        }
        context.log(`${target.label}: ${JSON.stringify(figures[target.label])}`);
      } finally {
        await target.stop();
      }
    }
    return {
      goals,
      config: {
        single: { connections: 500, duration_s: durationS, body: SEED_ANALYTICS },
        batches: { requests: batches, events_per_request: 1000, connections: 8 },
        sample_every_ms: 250,
        source:
          'Herald: /proc/<pid>/status VmRSS; PostgreSQL: summed PSS (/proc/<pid>/smaps_rollup)',
      },
      figures,
      tables: [
        {
          title: 'Resident set size (MiB)',
          columns: [
            'process',
            'idle',
            'peak, single events @500 conn',
            'peak, batches → persisted',
            'peak',
          ],
          rows,
        },
      ],
      notes: ['Goal: under 300 MB per process under load.'],
    };
  },
};
