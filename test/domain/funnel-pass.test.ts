/**
 * The funnel's single pass (src/domain/funnel-pass.ts) against the funnel's definition, with
 * no database: many users and events, times in microseconds after `from`, as the reader hands
 * them over.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { usersByReach } from '../../src/domain/funnel-pass.ts';
import { referenceFunnel, type StepEvent, sorted } from '../helpers/reference-funnel.ts';

test('usersByReach agrees with the reference on large random sets with microsecond times', async () => {
  // No database: many users and events, times in microseconds after `from`, as the reader
  // hands them over (entries already within the range).
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          user: fc.integer({ min: 0, max: 30 }),
          step: fc.integer({ min: 0, max: 3 }),
          at: fc.integer({ min: 0, max: 2000 }),
        }),
        { minLength: 20, maxLength: 300 },
      ),
      fc.integer({ min: 0, max: 600 }),
      fc.constantFrom('ids', 'numbers', 'mixed'),
      async (events, windowMicros, identities) => {
        const entries = events.filter((e) => e.step > 0 || e.at < 1000);
        // As the reader hands users over: ids, the sealer's numbers (some beyond the typed
        // array's reach), or both in one funnel (each user one or the other).
        const who = (user: number): string | number =>
          identities === 'ids' || (identities === 'mixed' && user % 3 === 0)
            ? `u${user}`
            : user % 2 === 0
              ? user
              : 2 ** 22 + user;
        const byStep = [0, 1, 2, 3].map((step) => {
          const mine = entries.filter((e) => e.step === step);
          return {
            users: mine.map((e) => who(e.user)),
            times: Float64Array.from(mine, (e) => e.at),
          };
        });
        const expected = referenceFunnel(
          entries.map((e) => ({ user: `u${e.user}`, step: e.step, at: e.at })),
          4,
          windowMicros,
          { from: 0, to: 1000 },
        );
        assert.deepEqual(sorted(await usersByReach(byStep, windowMicros)), sorted(expected));
      },
    ),
    { numRuns: 450, seed: 7 },
  );
});

test('usersByReach keeps tens of thousands of events (several storage chunks) without losing one', async () => {
  // 5,000 users with 12 events each, every hundredth with 60 (sorted another way than a
  // handful) and a narrow window; the reference runs user by user to stay fast.
  const rand = fc.sample(fc.integer({ min: 0, max: 2 ** 30 }), { numRuns: 60_000, seed: 11 });
  let next = 0;
  const draw = (n: number) => (rand[next++ % rand.length] as number) % n;
  const events: StepEvent[] = [];
  for (let user = 0; user < 5000; user += 1) {
    for (let i = 0; i < (user % 100 === 0 ? 60 : 12); i += 1) {
      const span = user % 100 === 0 ? 6_000 : 5_000;
      events.push({ user: `u${user}`, step: draw(3), at: draw(span) });
    }
  }
  const entry = { from: 0, to: 2_500 };
  const windowMicros = 150;
  const inRange = events.filter((e) => e.step > 0 || e.at < entry.to);
  // Half the users by number, as sealed segments hand them over: the reader's typed array of
  // numbers grows several times on the way to 5,000.
  const identity = (user: string) =>
    Number(user.slice(1)) % 2 === 0 ? user : Number(user.slice(1));
  const byStep = [0, 1, 2].map((step) => {
    const mine = inRange.filter((e) => e.step === step);
    return {
      users: mine.map((e) => identity(e.user)),
      times: Float64Array.from(mine, (e) => e.at),
    };
  });
  const byUser = Map.groupBy(inRange, (e) => e.user);
  const expected = new Map<number, number>();
  for (const mine of byUser.values()) {
    for (const [n, users] of referenceFunnel(mine, 3, windowMicros, entry)) {
      expected.set(n, (expected.get(n) ?? 0) + users);
    }
  }
  assert.ok(inRange.length > 3 * 16_384);
  assert.deepEqual(sorted(await usersByReach(byStep, windowMicros)), sorted(expected));
});
