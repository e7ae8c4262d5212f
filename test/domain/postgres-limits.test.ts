import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import pg from 'pg';
import {
  checkTimestamp,
  findUnstorable,
  fitsBigint,
  quoted,
  RANGE_TIMESTAMP_PATTERN,
  storableText,
  storableTimestamp,
  TIMESTAMP_PATTERN,
  TIMESTAMP_RULE,
  textRefusal,
  timestampProblem,
} from '../../src/domain/postgres-limits.ts';
import { POSTGRES_URL } from '../helpers/databases.ts';

const ajv = addFormats.default(new Ajv.default());
const dateTimeFormat = ajv.compile({ type: 'string', format: 'date-time' });
const schemaRule = ajv.compile({ type: 'string', format: 'date-time', pattern: TIMESTAMP_PATTERN });

const ACCEPTED = [
  '2024-01-01T12:00:00Z',
  '2024-01-01T12:00:00+15:59',
  '2024-01-01T12:00:00-15:59',
  '2024-01-01T12:00:00-00:00',
  '0001-01-01T00:00:00Z',
  '0001-01-01T00:00:00+15:00',
  '9999-12-31T23:59:59-15:59',
  '2024-02-29T23:59:59.123456789Z',
  '2024-01-01t12:00:00z',
  '2024-01-01 12:00:00+01:00',
];

const REFUSED: [string, RegExp][] = [
  ['2024-01-01T12:00:00+20:00', /offset/],
  ['2024-01-01T12:00:00-16:00', /offset/],
  ['2024-01-01T12:00:00+16:00', /offset/],
  ['2024-01-01T12:00:00+2000', /offset/],
  ['0000-01-01T00:00:00Z', /year/],
  ['294277-01-01T00:00:00Z', /year/],
  ['-4714-01-01T00:00:00Z', /year/],
  ['+010000-01-01T00:00:00Z', /year/],
  ['2016-12-31T23:59:60Z', /leap/],
  ['2016-12-31T23:59:60.5Z', /leap/],
  ['2024-01-01T12:00:00.1234567890Z', /fractional/],
  ['2023-02-29T00:00:00Z', /calendar/],
  ['2024-01-01T12:00:00+15', /RFC 3339/],
  ['2024-01-01T12:00:00', /RFC 3339/],
  ['yesterday', /RFC 3339/],
];

describe('storableTimestamp: the times PostgreSQL and the pipeline can both take', () => {
  test('the limits themselves are accepted: ±15:59, years 0001 and 9999, 9 fractional digits', () => {
    for (const text of ACCEPTED) {
      assert.equal(timestampProblem(text), undefined, text);
      assert.ok(schemaRule(text), `the schema (format + pattern) accepts ${text}`);
    }
  });

  test('past them each is refused with the limit it passes', () => {
    for (const [text, reason] of REFUSED) {
      assert.equal(storableTimestamp(text), false, text);
      assert.match(timestampProblem(text) ?? '', reason, text);
      assert.equal(schemaRule(text), false, `the schema refuses ${text}`);
    }
  });

  describe('against a real PostgreSQL server', () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    before(() => client.connect());
    after(() => client.end());

    async function postgresTakes(text: string): Promise<boolean> {
      try {
        // As a parameter and as the text of a jsonb field, the way events reach the store.
        await client.query('SELECT $1::timestamptz', [text]);
        await client.query(`SELECT (($1::jsonb)->>'t')::timestamptz`, [
          JSON.stringify({ t: text }),
        ]);
        return true;
      } catch {
        return false;
      }
    }

    const digits = (n: number) =>
      fc.integer({ min: 0, max: 10 ** n - 1 }).map((v) => String(v).padStart(n, '0'));
    // Date-times near every limit: years around 0000 and 9999, offsets up to ±23:59, seconds
    // up to 60, up to 12 fractional digits, and the separators and offset forms Ajv accepts.
    const nearLimits = fc
      .record({
        year: fc.oneof(fc.constantFrom('0000', '0001', '9999', '1970', '2024'), digits(4)),
        month: fc.constantFrom('01', '02', '12', '13'),
        day: fc.constantFrom('01', '28', '29', '30', '31'),
        separator: fc.constantFrom('T', 't', ' '),
        hour: fc.constantFrom('00', '12', '23'),
        second: fc.constantFrom('00', '59', '60'),
        fraction: fc.oneof(
          fc.constant(''),
          fc.integer({ min: 1, max: 12 }).chain((n) => digits(n).map((d) => `.${d}`)),
        ),
        offset: fc.oneof(
          fc.constantFrom('Z', 'z', ''),
          fc
            .tuple(
              fc.constantFrom('+', '-'),
              fc.integer({ min: 0, max: 23 }),
              fc.constantFrom('00', '30', '59'),
              fc.constantFrom(':', ''),
            )
            .map(([sign, h, m, colon]) => `${sign}${String(h).padStart(2, '0')}${colon}${m}`),
        ),
      })
      .map(
        (p) =>
          `${p.year}-${p.month}-${p.day}${p.separator}${p.hour}:59:${p.second}${p.fraction}${p.offset}`,
      );

    test('whatever the predicate accepts, PostgreSQL, Ajv and Date.parse take; the schema agrees with the predicate', async () => {
      await fc.assert(
        fc.asyncProperty(nearLimits, async (text) => {
          const storable = storableTimestamp(text);
          assert.equal(schemaRule(text), storable, `the schema and the predicate agree on ${text}`);
          if (!storable) return;
          assert.ok(dateTimeFormat(text), `Ajv's date-time takes ${text}`);
          assert.ok(Number.isFinite(Date.parse(text)), `Date.parse takes ${text}`);
          assert.ok(await postgresTakes(text), `PostgreSQL takes ${text}`);
        }),
        { numRuns: 400, seed: 17 },
      );
    });

    test('the refused examples include ones PostgreSQL itself refuses (so the limits are real)', async () => {
      for (const text of [
        '2024-01-01T12:00:00+20:00',
        '2024-01-01T12:00:00-16:00',
        '0000-01-01T00:00:00Z',
        '2016-12-31T23:59:60.5Z',
      ]) {
        assert.equal(await postgresTakes(text), false, text);
      }
      for (const text of ACCEPTED) assert.ok(await postgresTakes(text), text);
    });
  });
});

test('the range pattern (times something is computed from) is the storable one for the years 0002–9998', () => {
  const range = new RegExp(RANGE_TIMESTAMP_PATTERN);
  for (const text of [
    '0002-01-01T00:00:00Z',
    '9998-12-31T23:59:59-15:59',
    '2024-01-01T12:00:00+15:59',
  ]) {
    assert.ok(range.test(text), text);
  }
  for (const text of [
    '0001-01-01T00:00:00+15:00',
    '9999-12-31T23:59:59Z',
    '2024-01-01T12:00:00+16:00',
  ]) {
    assert.equal(range.test(text), false, text);
  }
  fc.assert(
    fc.property(fc.stringMatching(new RegExp(RANGE_TIMESTAMP_PATTERN)), (text) => {
      assert.ok(new RegExp(TIMESTAMP_PATTERN).test(text), text);
    }),
    { seed: 17 },
  );
});

// Every shape the date-time format lets through, at and past every limit.
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

test('a time checkTimestamp takes, server PostgreSQL takes too, at the instant checkTimestamp reads', async (t) => {
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
    if (stored === undefined) assert.equal(check.ok, false, `PostgreSQL refuses ${text}`);
    if (check.ok) {
      assert.equal(
        check.epochMs,
        Math.floor(stored ?? Number.NaN),
        `${text} names the same instant`,
      );
    }
  }
});

test('a refused time says why, the way the API says it', () => {
  const reasonOf = (text: string) => {
    const check = checkTimestamp(text);
    return check.ok ? 'ok' : check.reason;
  };
  assert.equal(reasonOf('2024-01-01T12:00:00+20:00'), 'the UTC offset must be within ±15:59');
  assert.equal(reasonOf('0000-01-01T00:00:00Z'), 'the year must be from 0001 to 9999');
  assert.equal(reasonOf('2023-02-29T00:00:00Z'), '2023-02-29 is not a calendar date');
  assert.equal(reasonOf('2024-06-30T23:59:60Z'), 'seconds must be 00–59 (no leap second)');
  assert.equal(reasonOf('2024-01-01T12:00:00'), `must be ${TIMESTAMP_RULE}`);
  // PostgreSQL reads 24:00:00 as the next midnight; RFC 3339 (and the API) has no such time.
  assert.equal(reasonOf('2024-01-01T24:00:00Z'), `must be ${TIMESTAMP_RULE}`);
  assert.equal(
    timestampProblem('2024-01-01T12:00:00+20:00'),
    reasonOf('2024-01-01T12:00:00+20:00'),
  );
});

test('text with NUL or half a surrogate pair is refused; whole astral characters are not', () => {
  assert.equal(textRefusal('C😀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 日本'), undefined);
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
