import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStages, type Stage } from '../../../src/app/pipeline.ts';
import { ErrorCodes, HeraldError } from '../../../src/errors.ts';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';
import { herald } from './run-cli.ts';

/** Refuses (dead-letters) the events whose id is in `refused`, until they are taken out. */
function refusing(refused: Set<string>): Stage {
  return {
    name: 'refusing',
    run({ message }) {
      if (refused.has(message.id)) {
        throw new HeraldError(ErrorCodes.VALIDATION, `${message.id} refused by the test`);
      }
    },
  };
}

async function platformWithDeadLetters(t: Parameters<typeof startTestPlatform>[0]) {
  const refused = new Set(['a-1', 'a-2', 'c-1']);
  const platform = await startTestPlatform(
    t,
    {},
    { stages: [...defaultStages, refusing(refused)] },
  );
  await postJson(`${platform.url}/api/v1/events/batch`, [
    { id: 'a-1', event_type: 'click', user_id: 'u1' },
    { id: 'a-2', event_type: 'click', user_id: 'u2' },
    { id: 'c-1', molecule_id: 'm1', researcher: 'r', data: { formula: 'H2O' } },
    { id: 'ok-1', event_type: 'click', user_id: 'u3' },
  ]);
  await eventually(async () => {
    const { body } = await getJson(`${platform.url}/metrics/summary`);
    return body.dead_lettered === 3 && body.processed === 1 ? true : undefined;
  });
  return { ...platform, refused };
}

test('herald dlq list and show find dead letters by type and reason', async (t) => {
  const { url } = await platformWithDeadLetters(t);
  const list = await herald(['dlq', 'list', '--type', 'click', '--url', url]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /a-1\s+click\s+invalid/);
  assert.match(list.stdout, /a-2\s+click\s+invalid/);
  assert.doesNotMatch(list.stdout, /c-1/);
  assert.match(list.stdout, /2 dead letter\(s\)/);

  const json = await herald(['dlq', 'list', '--reason', 'poison', '--json', '--url', url]);
  assert.deepEqual(JSON.parse(json.stdout).dead_letters, []);
  const recent = await herald(['dlq', 'list', '--since', '5m', '--json', '--url', url]);
  assert.equal(JSON.parse(recent.stdout).dead_letters.length, 3);
  const future = await herald(['dlq', 'list', '--until', '2000-01-01T00:00:00Z', '--url', url]);
  assert.match(future.stdout, /0 dead letter\(s\)/);

  const show = await herald(['dlq', 'show', 'c-1', '--url', url]);
  assert.equal(show.code, 0, show.stderr);
  const letter = JSON.parse(show.stdout);
  assert.equal(letter.type, 'molecule_submitted');
  assert.equal(letter.last_error, 'c-1 refused by the test');
  assert.deepEqual(letter.payload.data, { formula: 'H2O' });

  const missing = await herald(['dlq', 'show', 'nope', '--url', url]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no dead letter with id "nope"/);
});

test('herald dlq replay --dry-run changes nothing; replay by filter sends them through again', async (t) => {
  const { url, refused } = await platformWithDeadLetters(t);
  const dry = await herald(['dlq', 'replay', '--type', 'click', '--dry-run', '--url', url]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /dry run: would replay 2 dead letter\(s\)/);
  const { body: unchanged } = await getJson(`${url}/api/v1/dead-letters`);
  assert.equal((unchanged.dead_letters as unknown[]).length, 3);

  refused.clear();
  const replay = await herald(['dlq', 'replay', '--type', 'click', '--url', url]);
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, /replayed 2 of 2 matching dead letter\(s\)/);
  for (const id of ['a-1', 'a-2']) {
    await eventually(async () => {
      const { body } = await getJson(`${url}/api/v1/events/${id}`);
      return body.status === 'processed' ? true : undefined;
    });
  }
  const one = await herald(['dlq', 'replay', 'c-1', '--url', url]);
  assert.equal(one.code, 0, one.stderr);
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/c-1`);
    return body.status === 'processed' ? true : undefined;
  });
  const gone = await herald(['dlq', 'replay', 'c-1', '--url', url]);
  assert.equal(gone.code, 1, 'a replayed id is no longer a dead letter');
  assert.match(gone.stderr, /not dead letters: c-1/);
});

test('herald dlq purge drops the matching dead letters; --dry-run only lists them', async (t) => {
  const { url } = await platformWithDeadLetters(t);
  const dry = await herald(['dlq', 'purge', '--all', '--dry-run', '--url', url]);
  assert.match(dry.stdout, /dry run: would purge 3 dead letter\(s\)/);
  const purge = await herald(['dlq', 'purge', '--type', 'molecule_submitted', '--url', url]);
  assert.equal(purge.code, 0, purge.stderr);
  assert.match(purge.stdout, /purged 1 of 1 matching dead letter\(s\)\n {2}c-1/);
  const { body } = await getJson(`${url}/api/v1/dead-letters`);
  assert.deepEqual((body.dead_letters as { id: string }[]).map((d) => d.id).sort(), ['a-1', 'a-2']);
});

test('herald dlq refuses ambiguous or unbounded bulk actions with exit 2', async () => {
  const none = await herald(['dlq', 'purge']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /needs ids, a filter, or --all/);
  const both = await herald(['dlq', 'replay', 'x', '--type', 'click']);
  assert.equal(both.code, 2);
  const reason = await herald(['dlq', 'list', '--reason', 'bored']);
  assert.equal(reason.code, 2);
  const since = await herald(['dlq', 'list', '--since', 'yesterday']);
  assert.equal(since.code, 2);
  const action = await herald(['dlq', 'explode']);
  assert.equal(action.code, 2);
  assert.match(action.stderr, /unknown action "explode"/);
  const help = await herald(['dlq', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--dry-run/);
});
