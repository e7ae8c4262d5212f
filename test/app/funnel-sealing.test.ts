/**
 * The worker's background sealing of funnel hours: rounds back to back while a backlog lasts,
 * then one per interval; a failing round never stops it; stop() waits for the round in flight.
 * And in a running platform, closed hours get sealed and the funnel reads them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FunnelSealing } from '../../src/app/funnel-sealing.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { FunnelSealer } from '../../src/ports/analytics.ts';
import { eventually } from '../helpers/eventually.ts';
import { startTestPlatform } from '../helpers/platform.ts';

const logger = createLogger('silent');

/** A sealer answering rounds from a script (a number sealed, or an error), then 0. */
function scriptedSealer(script: (number | Error)[]) {
  const rounds: number[] = [];
  const sealer: FunnelSealer = {
    async sealRound() {
      rounds.push(performance.now());
      const next = script.shift() ?? 0;
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { sealer, rounds };
}

test('full rounds follow each other at once; once caught up, the next round waits the interval', async () => {
  const { sealer, rounds } = scriptedSealer([10, 10, 3]);
  const sealing = new FunnelSealing(sealer, logger, { intervalMs: 60_000, hoursPerRound: 10 });
  sealing.start();
  await eventually(() => (rounds.length >= 3 ? true : undefined), { timeoutMs: 5000 });
  // The third round sealed less than a round's worth: the fourth waits a minute.
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(rounds.length, 3);
  assert.equal(sealing.sealed, 23);
  await sealing.stop();
});

test('a failing round is retried at the next interval and the loop goes on', async () => {
  const { sealer, rounds } = scriptedSealer([new Error('database restarting'), 4]);
  const sealing = new FunnelSealing(sealer, logger, { intervalMs: 30, hoursPerRound: 10 });
  sealing.start();
  await eventually(() => (rounds.length >= 3 ? true : undefined), { timeoutMs: 5000 });
  assert.equal(sealing.sealed, 4);
  await sealing.stop();
});

test('stop() waits for the round in flight and no round starts after it', async () => {
  let release: (() => void) | undefined;
  let started = 0;
  const sealer: FunnelSealer = {
    sealRound: () => {
      started += 1;
      return new Promise((resolve) => {
        release = () => resolve(1);
      });
    },
  };
  const sealing = new FunnelSealing(sealer, logger, { intervalMs: 10, hoursPerRound: 1 });
  sealing.start();
  await eventually(() => release, { timeoutMs: 5000 });
  let stopped = false;
  const stopping = sealing.stop().then(() => {
    stopped = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(stopped, false, 'the round in flight is still running');
  release?.();
  await stopping;
  assert.equal(sealing.sealed, 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(started, 1);
});

test('a running worker seals closed hours, and the funnel over them answers the same', async (t) => {
  const platform = await startTestPlatform(t, {
    ANALYTICS_SEAL_INTERVAL_MS: '50',
    AGENTS_ENABLED: 'false',
    NOTIFICATIONS_ENABLED: 'false',
  });
  // Yesterday 10:00–11:00 UTC: 120 signups (enough to be sealed), half of them buying.
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const at = (second: number) => new Date(Date.parse(`${day}T10:00:00Z`) + second * 1000);
  const events = Array.from({ length: 120 }, (_, i) => [
    { user_id: `sealed-u${i}`, event_type: 'signup', timestamp: at(i * 10).toISOString() },
    ...(i % 2 === 0
      ? [
          {
            user_id: `sealed-u${i}`,
            event_type: 'purchase',
            timestamp: at(i * 10 + 5).toISOString(),
          },
        ]
      : []),
  ]).flat();
  const accepted = await fetch(`${platform.url}/api/v1/events/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  assert.equal(accepted.status, 202);
  const funnel = async () => {
    const query = `steps=signup,purchase&window=3600&from=${day}T10:00:00Z&to=${day}T11:00:00Z`;
    const answer = await fetch(`${platform.url}/api/v1/analytics/funnel?${query}`);
    return (await answer.json()) as { steps: { type: string; users: number }[] };
  };
  const expected = [
    { type: 'signup', users: 120 },
    { type: 'purchase', users: 60 },
  ];
  const reached = (body: { steps: { type: string; users: number }[] }) =>
    body.steps.map(({ type, users }) => ({ type, users }));
  await eventually(
    async () =>
      JSON.stringify(reached(await funnel())) === JSON.stringify(expected) ? true : undefined,
    { message: 'every event processed' },
  );
  // The signups' hour is sealed (the purchases', 60 events, stay raw: under 100).
  await eventually(
    async () => {
      const rows = await platform.db.query<{ event_type: string }>(
        'SELECT event_type FROM analytics_funnel_segments',
      );
      return rows.length > 0 ? rows : undefined;
    },
    { message: 'the signups hour sealed' },
  );
  assert.ok((platform.funnelSealing?.sealed ?? 0) >= 1);
  assert.deepEqual(reached(await funnel()), expected);
});
