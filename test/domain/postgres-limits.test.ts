import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import {
  checkTimestamp,
  findUnstorable,
  fitsBigint,
  quoted,
  storableText,
  textRefusal,
} from '../../src/domain/postgres-limits.ts';
import { POSTGRES_URL } from '../helpers/databases.ts';

// At and past every limit, and every shape the API's date-time format lets through.
const TIMES = [
  '2024-01-01T12:00:00Z',
  '2024-01-01t12:00:00z',
  '2024-01-01 12:00:00Z',
  '2024-01-01T12:00:00.123456789Z',
  '2024-01-01T12:00:00+15:59',
  '2024-01-01T12:00:00-15:59',
  '2024-01-01T12:00:00+16:00',
  '2024-01-01T12:00:00+20:00',
  '2024-01-01T12:00:00-23:59',
  '2024-01-01T12:00:00+05',
  '2024-01-01T12:00:00+0530',
  '2024-01-01T12:00:00+14:60',
  '2024-02-29T00:00:00Z',
  '2023-02-29T00:00:00Z',
  '2024-02-30T00:00:00Z',
  '2024-04-31T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-06-30T23:59:60Z',
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '0001-01-01T00:00:00+15:59',
  '9999-12-31T23:59:59Z',
  '9999-12-31T23:59:59-15:59',
];

test('a timestamp is storable exactly when server PostgreSQL takes it, at the instant it reads', async (t) => {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  t.after(() => client.end());
  for (const text of TIMES) {
    const check = checkTimestamp(text);
    const stored = await client
      .query<{ ms: string }>('SELECT (extract(epoch FROM $1::timestamptz) * 1000)::text AS ms', [
        text,
      ])
      .then(
        (r) => Number(r.rows[0]?.ms),
        () => undefined,
      );
    assert.equal(check.ok, stored !== undefined, `${text}: ${JSON.stringify(check)}`);
    if (check.ok && stored !== undefined) {
      assert.equal(check.epochMs, Math.floor(stored), `${text} names the same instant`);
    }
  }
});

test('a refused timestamp says why', () => {
  const reasonOf = (text: string) => {
    const check = checkTimestamp(text);
    return check.ok ? 'ok' : check.reason;
  };
  assert.equal(reasonOf('2024-01-01T12:00:00+20:00'), 'UTC offset +20:00 is past ±15:59');
  assert.equal(reasonOf('0000-01-01T00:00:00Z'), 'year 0000 is outside 1–9999');
  assert.equal(reasonOf('2023-02-29T00:00:00Z'), 'day 29 does not exist in 2023-02');
  assert.equal(reasonOf('2024-01-01T12:00:00'), 'not an RFC 3339 date-time with a UTC offset');
  assert.equal(reasonOf('yesterday'), 'not an RFC 3339 date-time with a UTC offset');
  // PostgreSQL reads 24:00:00 as the next midnight; RFC 3339 (and the API) has no such time.
  assert.equal(reasonOf('2024-01-01T24:00:00Z'), 'time 24:00:00 does not exist');
});

test('text with NUL or half a surrogate pair is refused; whole astral characters are not', () => {
  assert.equal(textRefusal('C😀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢'), undefined);
  assert.equal(textRefusal('a\u0000b'), 'contains NUL (\\u0000)');
  assert.equal(textRefusal('C\ud83d'), 'contains an unpaired UTF-16 surrogate');
  assert.equal(textRefusal('\ude00C'), 'contains an unpaired UTF-16 surrogate');
});

test('the first unstorable key, string or number of a JSON value is found by its path', () => {
  assert.equal(findUnstorable({ a: [1, 'two', { b: '😀' }] }), undefined);
  assert.deepEqual(findUnstorable({ data: { formula: 'C\ud83d' } }), {
    path: 'data.formula',
    reason: 'contains an unpaired UTF-16 surrogate',
  });
  assert.deepEqual(findUnstorable({ tags: ['ok', 'n\u0000l'] }), {
    path: 'tags.1',
    reason: 'contains NUL (\\u0000)',
  });
  assert.deepEqual(findUnstorable({ weight: Number.POSITIVE_INFINITY }), {
    path: 'weight',
    reason: 'is Infinity, not a finite number',
  });
  assert.equal(findUnstorable({ 'k\u0000': 1 })?.path, '"k\\u0000"');
  assert.equal(findUnstorable('\ud800')?.path, '(value)');
});

test('storable text escapes NUL and lone surrogates and cuts between code points only', () => {
  assert.equal(storableText("unexpected character '\ud83d'"), "unexpected character '\\ud83d'");
  assert.equal(storableText('a\u0000b'), 'a\\u0000b');
  // Three code points, six UTF-16 units: the cut never leaves half of an emoji.
  assert.equal(storableText('😀😀😀', 2), '😀😀…');
  assert.equal(storableText('😀😀', 2), '😀😀');
  for (const text of [storableText('x\ud83d'), storableText('😀'.repeat(50), 7)]) {
    assert.equal(textRefusal(text), undefined, text);
  }
  assert.equal(quoted('C😀'), '"C😀"');
  assert.equal(quoted('A'.repeat(100), 5), '"AAAAA…"');
});

test('bigint limits: 2^63 − 1 fits, 2^63 does not, nor non-integers', () => {
  assert.equal(fitsBigint('9223372036854775807'), true);
  assert.equal(fitsBigint('-9223372036854775808'), true);
  assert.equal(fitsBigint('9223372036854775808'), false);
  assert.equal(fitsBigint('99999999999999999999'), false);
  assert.equal(fitsBigint(1.5), false);
  assert.equal(fitsBigint(''), false);
  assert.equal(fitsBigint('12abc'), false);
  assert.equal(fitsBigint(0), true);
});
