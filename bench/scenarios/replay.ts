/**
 * Replay of a range (issue #20): a million events ingested and processed end to end, then
 * replayed through the pipeline (re-deriving every processed row's enrichment in place), the
 * replay's events/s against the end-to-end events/s of the same run.
 */
import pg from 'pg';
import { sustained, warmUp } from '../lib/e2e.ts';
import { startTarget } from '../lib/herald.ts';
import { POSTGRES_URL } from '../lib/postgres.ts';
import { type Context, fmt, type Scenario, type ScenarioResult } from '../lib/report.ts';

interface ReplayJson {
  id: string;
  status: string;
  started_at: string | null;
  finished_at: string | null;
  progress: { read: number; sent: number; skipped: number; outcomes: Record<string, number> };
}

export const replay: Scenario = {
  name: 'replay',
  title: 'Replay: a range of the log through the pipeline',
  async run(context: Context): Promise<ScenarioResult> {
    const events = context.quick ? 5000 : 1_000_000;
    const target = await startTarget({
      database: 'postgres',
      topology: 'api+worker',
      env: { REPLAY_POLL_MS: '100', QUEUE_PARTITIONS: '16' },
    });
    try {
      await warmUp(target);
      const from = new Date().toISOString();
      context.log(`${fmt(events)} events end to end`);
      const e2e = await sustained(target, events, { timeoutMs: 1_800_000 });
      context.log(`  → ${fmt(e2e.events_per_s)} events/s persisted`);
      // As before a fix: every processed row's enrichment differs from what the stages derive
      // now, so the replay rewrites each one (its costliest case).
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client
        .query(
          `UPDATE ${target.env.DATABASE_SCHEMA}.processed_events SET enrichment = enrichment || '{"stale": true}'`,
        )
        .finally(() => client.end());
      const created = await fetch(`${target.url}/api/v1/replays`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ target: 'pipeline', from, topics: ['analytics'] }),
      });
      if (created.status !== 201) throw new Error(`replay refused: ${await created.text()}`);
      const { id } = (await created.json()) as ReplayJson;
      const started = Date.now();
      let done: ReplayJson | undefined;
      while (Date.now() - started < 1_800_000) {
        const r = (await (await fetch(`${target.url}/api/v1/replays/${id}`)).json()) as ReplayJson;
        if (['completed', 'failed', 'cancelled'].includes(r.status)) {
          done = r;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      if (done === undefined || done.status !== 'completed') {
        throw new Error(`the replay did not complete: ${JSON.stringify(done)}`);
      }
      const seconds =
        (Date.parse(done.finished_at ?? '') - Date.parse(done.started_at ?? '')) / 1000;
      const perS = Math.round(done.progress.read / Math.max(seconds, 0.001));
      context.log(
        `  replay: ${fmt(done.progress.read)} events in ${fmt(seconds)} s → ${fmt(perS)}/s`,
      );
      const ratio = perS / Math.max(e2e.events_per_s, 1);
      return {
        config: { events, env: target.env },
        figures: { e2e, replay: { ...done, seconds, events_per_s: perS } },
        tables: [
          {
            title: 'Replay through the pipeline vs end to end (same run)',
            columns: ['what', 'events', 'seconds', 'events/s'],
            rows: [
              [
                'end to end (accepted → persisted)',
                fmt(e2e.events),
                fmt(e2e.seconds),
                fmt(e2e.events_per_s),
              ],
              [
                'pipeline replay (re-derived in place)',
                fmt(done.progress.read),
                fmt(seconds),
                fmt(perS),
              ],
            ],
          },
        ],
        goals: [
          {
            goal: `replay of ${fmt(events)} events through the pipeline`,
            target: '≥ 0.5× the end-to-end rate',
            measured: `${ratio.toFixed(2)}×`,
            met: ratio >= 0.5,
          },
        ],
        notes: [
          'The replay re-runs the worker stages on every event and rewrites processed_events.enrichment where it changed: here every row (each was marked stale before), the costliest case.',
        ],
      };
    } finally {
      await target.stop();
    }
  },
};
