import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';

for (const database of ['embedded', 'postgres'] as const) {
  test(`GET /api/v1/events filters by user, type, topic and time, newest first [${database}]`, async (t) => {
    const { url } = await startTestPlatform(t, {}, { database });
    const before = new Date().toISOString();
    await postJson(`${url}/events`, { id: 'x-1', event_type: 'purchase', user_id: 'ann' });
    await postJson(`${url}/api/v1/events/analytics`, {
      id: 'x-2',
      event_type: 'page_view',
      user_id: 'ann',
    });
    await postJson(`${url}/events`, { id: 'x-3', event_type: 'purchase', user_id: 'ben' });

    const ids = async (query: string) => {
      const { status, body } = await getJson(`${url}/api/v1/events?${query}`);
      assert.equal(status, 200, JSON.stringify(body));
      return (body.events as { id: string }[]).map((e) => e.id);
    };
    assert.deepEqual(await ids('user_id=ann'), ['x-2', 'x-1']);
    assert.deepEqual(await ids('type=purchase'), ['x-3', 'x-1']);
    assert.deepEqual(await ids('topic=analytics'), ['x-2']);
    assert.deepEqual(await ids(`from=${encodeURIComponent(before)}&limit=1`), ['x-3']);
    assert.deepEqual(await ids(`to=${encodeURIComponent(before)}`), []);

    const bad = await getJson(`${url}/api/v1/events?from=yesterday`);
    assert.equal(bad.status, 422);
    const unknown = await getJson(`${url}/api/v1/events?colour=red`);
    assert.equal(unknown.status, 422);
  });
}
