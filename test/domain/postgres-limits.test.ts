import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import pg from 'pg';
import {
  RANGE_TIMESTAMP_PATTERN,
  storableText,
  storableTimestamp,
  TIMESTAMP_PATTERN,
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

describe('storableText', () => {
  test('NUL and lone surrogates are not storable; astral characters and emoji are', () => {
    assert.equal(storableText('a\u0000b'), false);
    assert.equal(storableText('\ud800'), false);
    assert.equal(storableText('x\udfff'), false);
    assert.equal(storableText('C😀 𝄞 日本'), true);
  });
});
