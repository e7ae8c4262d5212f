/**
 * The terminal-state property, the long run (the short one is test/e2e/terminal-state.test.ts):
 * ≥ 10,000 generated cases through every ingest route — any code point, escaped lone
 * surrogates, NUL, long strings, extreme numbers, times at and past every limit, odd formulas,
 * batches mixing good and bad items —, each accepted event followed by a canary with its key.
 * Every 202 must end processed or dead-lettered no later than its canary, every canary must be
 * processed, and every consumer group must get past them all; no answer may be a 5xx. On the
 * embedded default and on server PostgreSQL, in this process (the property is about what
 * Herald does with the input, not about process boundaries).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { consumerGroups } from '../../src/platform/consumer-groups.ts';
import { startPlatform } from '../../src/platform/start.ts';
import {
  anyCase,
  runTerminalState,
  type TerminalStateReport,
} from '../../test/helpers/terminal-state.ts';
import { dropSchema, POSTGRES_URL, uniqueName } from '../lib/postgres.ts';
import { type Context, fmt, type Scenario, type ScenarioResult } from '../lib/report.ts';

const CHUNK = 500;
const SETTINGS = {
  PORT: '0',
  OPS_PORT: '0',
  LOG_LEVEL: 'silent',
  RETRY_BASE_MS: '10',
  RETRY_MAX_MS: '50',
  RETRY_MAX_ATTEMPTS: '2',
  OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
};

async function runOn(
  database: 'embedded' | 'postgres',
  total: number,
  seed: number,
  log: (message: string) => void,
): Promise<TerminalStateReport & { database: string }> {
  const dataDir = database === 'embedded' ? await mkdtemp(join(tmpdir(), 'herald-terminal-')) : '';
  const schema = uniqueName('herald_terminal');
  const config = loadConfig(
    {},
    database === 'embedded'
      ? { ...SETTINGS, DATA_DIR: dataDir }
      : { ...SETTINGS, DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema },
  );
  const platform = await startPlatform(config, createLogger('silent'), { api: true, worker: true });
  const sum: TerminalStateReport & { database: string } = {
    database,
    cases: 0,
    requests: 0,
    accepted: 0,
    canaries: 0,
    statuses: {},
    refusedFields: {},
    reasons: {},
    failures: [],
    seconds: 0,
  };
  try {
    const groups = consumerGroups(config);
    for (let chunk = 0; sum.cases < total; chunk++) {
      const cases = fc.sample(anyCase, {
        numRuns: Math.min(CHUNK, total - sum.cases),
        seed: seed + chunk,
      });
      const report = await runTerminalState({
        url: platform.url ?? '',
        db: platform.db,
        cases,
        runId: randomBytes(4).toString('hex'),
        boundMs: 120_000,
        concurrency: 16,
        lag: async () => {
          const behind: Record<string, number> = {};
          for (const group of groups) {
            const lag = await platform.broker.lag(group);
            behind[group] = lag.reduce((sum, p) => sum + p.lag, 0);
          }
          return behind;
        },
      });
      sum.cases += report.cases;
      sum.requests += report.requests;
      sum.accepted += report.accepted;
      sum.canaries += report.canaries;
      sum.seconds += report.seconds;
      sum.failures.push(...report.failures);
      for (const [into, from] of [
        [sum.statuses, report.statuses],
        [sum.reasons, report.reasons],
      ] as const) {
        for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
      }
      log(
        `${database}: ${fmt(sum.cases)} cases, ${fmt(sum.accepted)} accepted, ` +
          `${sum.failures.length} violations`,
      );
    }
  } finally {
    await platform.stop();
    if (database === 'embedded') await rm(dataDir, { recursive: true, force: true });
    else await dropSchema(schema).catch(() => {});
  }
  return sum;
}

export const terminalState: Scenario = {
  name: 'terminal-state',
  title: 'Terminal state: generated hostile events, each followed by a canary with its key',
  async run(context: Context): Promise<ScenarioResult> {
    const total = context.quick ? 300 : 10_000;
    const seed = Number(process.env.TERMINAL_SEED ?? Date.now() % 2 ** 31);
    const runs = [];
    for (const database of ['embedded', 'postgres'] as const) {
      runs.push(await runOn(database, total, seed, context.log));
    }
    return {
      config: { cases: total, seed, chunk: CHUNK, settings: SETTINGS },
      figures: {
        runs: runs.map(({ failures, ...rest }) => ({
          ...rest,
          violations: failures.length,
          failures: failures.slice(0, 50),
        })),
      },
      tables: [
        {
          title: `Terminal state over ${fmt(total)} generated cases per database (seed ${seed})`,
          columns: [
            'database',
            'cases',
            'requests',
            'events accepted',
            'refused (4xx)',
            '5xx',
            'dead-lettered',
            'violations',
            'seconds',
          ],
          rows: runs.map((r) => [
            r.database,
            fmt(r.cases),
            fmt(r.requests),
            fmt(r.accepted),
            fmt(
              Object.entries(r.statuses)
                .filter(([s]) => s.startsWith('4'))
                .reduce((n, [, c]) => n + c, 0),
            ),
            fmt(
              Object.entries(r.statuses)
                .filter(([s]) => s.startsWith('5'))
                .reduce((n, [, c]) => n + c, 0),
            ),
            fmt(Object.values(r.reasons).reduce((n, c) => n + c, 0)),
            r.failures.length,
            fmt(r.seconds),
          ]),
        },
      ],
      notes: [
        'A violation is an accepted event not terminal when its canary was processed, a canary not processed within 120 s, a consumer group still behind then, a 5xx, a 4xx that is not problem+json, or an event the API does not report as processed or dead_lettered.',
        `Dead-letter reasons: ${runs.map((r) => `${r.database} ${JSON.stringify(r.reasons)}`).join('; ')}.`,
        ...runs.flatMap((r) =>
          r.failures.slice(0, 5).map((f) => `${r.database}: ${f.slice(0, 400)}`),
        ),
      ],
    };
  },
};
