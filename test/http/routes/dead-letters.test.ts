import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStages, type Stage } from '../../../src/app/pipeline.ts';
import { ErrorCodes, HeraldError } from '../../../src/errors.ts';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';

const refusing = (refused: Set<string>): Stage => ({
  name: 'refusing',
  run({ message }) {
    if (refused.has(message.id)) throw new HeraldError(ErrorCodes.VALIDATION, 'refused');
  },
});

for (const database of ['embedded', 'postgres'] as const) {
  test(`bulk replay and purge take ids or filters, honour dry_run and refuse an unbounded request [${database}]`, async (t) => {
    const refused = new Set(['d-1', 'd-2', 'd-3']);
    const { url } = await startTestPlatform(
      t,
      {},
      { database, stages: [...defaultStages, refusing(refused)] },
    );
    await postJson(
      `${url}/api/v1/events/batch`,
      ['d-1', 'd-2', 'd-3'].map((id, i) => ({ id, event_type: 'click', user_id: `u${i}` })),
    );
    await eventually(async () => {
      const { body } = await getJson(`${url}/metrics/summary`);
      return body.dead_lettered === 3 ? true : undefined;
    });

    const unbounded = await postJson(`${url}/api/v1/dead-letters/purge`, {});
    assert.equal(unbounded.status, 422);
    const badReason = await postJson(`${url}/api/v1/dead-letters/replay`, { reason: 'x' });
    assert.equal(badReason.status, 422);

    const dry = await postJson(`${url}/api/v1/dead-letters/replay`, { all: true, dry_run: true });
    assert.equal(dry.status, 200);
    assert.equal(dry.body.matched, 3);
    assert.equal(dry.body.replayed, 0);

    refused.delete('d-1');
    const replay = await postJson(`${url}/api/v1/dead-letters/replay`, { ids: ['d-1', 'zz'] });
    assert.equal(replay.status, 202);
    assert.deepEqual(replay.body.ids, ['d-1']);
    assert.equal(replay.body.replayed, 1);
    await eventually(async () => {
      const { body } = await getJson(`${url}/api/v1/events/d-1`);
      return body.status === 'processed' ? true : undefined;
    });

    const future = new Date(Date.now() + 60_000).toISOString();
    const none = await postJson(`${url}/api/v1/dead-letters/purge`, { since: future });
    assert.equal(none.body.purged, 0);
    const purge = await postJson(`${url}/api/v1/dead-letters/purge`, {
      reason: 'invalid',
      until: future,
    });
    assert.equal(purge.status, 200);
    assert.deepEqual((purge.body.ids as string[]).sort(), ['d-2', 'd-3']);
    const { body } = await getJson(`${url}/api/v1/dead-letters`);
    assert.deepEqual(body.dead_letters, []);
    const purged = await getJson(`${url}/api/v1/events/d-2`);
    assert.equal(purged.body.status, 'purged', 'a purged event says so, not "accepted"');
  });
}
