import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../src/config.ts';
import { consumerGroups } from '../../src/platform/consumer-groups.ts';
import { startTestPlatform } from '../helpers/platform.ts';
import { anyCase, runTerminalState } from '../helpers/terminal-state.ts';

// The short run of the terminal-state property (the long one: `npm run bench -- --scenario
// terminal-state`). Retries are quick here, so that an event taken for transient by mistake
// still ends within the bound: the property is that every event ends, and in key order; how
// each failure is classified has tests of its own.
const SETTINGS = { RETRY_BASE_MS: '10', RETRY_MAX_MS: '50', RETRY_MAX_ATTEMPTS: '2' };
const CASES = 120;
const BOUND_MS = 30_000;

for (const database of ['embedded', 'postgres'] as const) {
  describe(`terminal state [${database}]`, () => {
    test('every accepted event, whatever it contains, ends processed or dead-lettered no later than the canary behind it; every canary is processed', {
      timeout: 180_000,
    }, async (t) => {
      const platform = await startTestPlatform(t, SETTINGS, { database });
      const groups = consumerGroups(loadConfig({}, SETTINGS));
      // Sampled rather than fc.assert-ed: a counterexample of 120 hostile requests is megabytes
      // of text; each failure below names its own request, and the seed replays the run.
      const seed = Number(process.env.TERMINAL_SEED ?? Date.now() % 2 ** 31);
      const cases = fc.sample(anyCase, { numRuns: CASES, seed });
      const report = await runTerminalState({
        url: platform.url,
        db: platform.db,
        cases,
        runId: randomBytes(4).toString('hex'),
        boundMs: BOUND_MS,
        lag: async () => {
          const behind: Record<string, number> = {};
          for (const group of groups) {
            const lag = await platform.broker.lag(group);
            behind[group] = lag.reduce((sum, p) => sum + p.lag, 0);
          }
          return behind;
        },
      });
      t.diagnostic(
        `seed ${seed}: ${report.cases} cases, ${report.accepted} events accepted, answers ` +
          `${JSON.stringify(report.statuses)}, refused ${JSON.stringify(report.refusedFields)}, dead letters ${JSON.stringify(report.reasons)}, ` +
          `${report.seconds} s`,
      );
      assert.deepEqual(
        report.failures.slice(0, 10),
        [],
        `TERMINAL_SEED=${seed}: ${report.failures.length} violations`,
      );
      // The run must have exercised the workers, not only the API's refusals.
      assert.ok(report.accepted >= CASES / 4, `only ${report.accepted} events accepted`);
    });
  });
}
