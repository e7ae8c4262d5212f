import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonDepth } from '../../src/http/server.ts';
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

// JSON values whose strings and keys are sometimes unstorable.
const text = fc.oneof(fc.string(), fc.constantFrom('ok', '\u0000', 'a\ud800', '\udfff', '😀'));
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    text,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(text, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Every key and string of a JSON value, the plain recursive way. */
function texts(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  if (Array.isArray(value)) return value.flatMap(texts);
  return Object.entries(value).flatMap(([key, child]) => [key, ...texts(child)]);
}

function depth(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depth));
}

test('findUnstorableText finds something exactly when some key or string is unstorable', () => {
  const unstorable = (s: string) => s.includes('\u0000') || !s.isWellFormed();
  fc.assert(
    fc.property(json, (value) => {
      assert.equal(findUnstorableText(value) !== undefined, texts(value).some(unstorable));
    }),
    { numRuns: 2000 },
  );
});

test('jsonDepth is the nesting depth, counted no further than limit + 1', () => {
  fc.assert(
    fc.property(json, fc.integer({ min: 0, max: 5 }), (value, limit) => {
      assert.equal(jsonDepth(value, limit), Math.min(depth(value), limit + 1));
    }),
    { numRuns: 2000 },
  );
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
