import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findUnstorableText } from '../../src/http/unstorable-text.ts';
import { postJson, startTestPlatform } from '../helpers/platform.ts';

test('findUnstorableText names the first key or string PostgreSQL cannot store', () => {
  assert.equal(findUnstorableText({ a: 'fine', b: ['ok', { c: 'é😀' }] }), undefined);
  assert.equal(findUnstorableText({ a: { b: 'x\u0000y' } }), 'a.b');
  assert.equal(findUnstorableText({ list: ['ok', '\ud800'] }), 'list.1');
  assert.equal(findUnstorableText({ 'k\udfff': 1 }), '(key)');
  assert.equal(findUnstorableText('\u0000'), '(body)');
  assert.equal(findUnstorableText({ user_id: '\u0000' }, 'query'), 'query.user_id');
  // A well-formed pair is fine; only unpaired halves are refused.
  assert.equal(findUnstorableText({ a: '\ud83d\ude00' }), undefined);
});

test('NUL and unpaired surrogates in a body, a query or a path get a 422 naming the field, not a 500', async (t) => {
  const { url } = await startTestPlatform(t, {}, { database: 'postgres' });
  const body = await postJson(`${url}/events`, '{"event_type":"a","user_id":"u\\u0000"}');
  assert.equal(body.status, 422);
  assert.deepEqual(body.body.errors, [
    { field: 'user_id', message: 'must not contain NUL characters or unpaired surrogates' },
  ]);
  const batch = await postJson(
    `${url}/api/v1/events/batch`,
    '[{"event_type":"a","user_id":"u","metadata":{"note":"\\ud800"}}]',
  );
  assert.equal(batch.status, 422);
  const query = await fetch(`${url}/api/v1/events?user_id=%00`);
  assert.equal(query.status, 422);
  const path = await fetch(`${url}/api/v1/events/a%00b`);
  assert.equal(path.status, 422);
  assert.match(path.headers.get('content-type') ?? '', /problem\+json/);
});
