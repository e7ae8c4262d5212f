import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import {
  ErrorCodes,
  HeraldError,
  isConnectionError,
  isContentRefusal,
  isRetryable,
  sqlStateOf,
} from '../src/errors.ts';
import { POSTGRES_URL } from './helpers/databases.ts';

/** An error as node-postgres raises it for a statement the server refused. */
function databaseError(code: string, message = `error ${code}`): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

test('SQLSTATEs are classified by cause: losing the database is transient, refused content is permanent', () => {
  const table: [string, 'transient' | 'permanent', string][] = [
    ['08006', 'transient', 'connection failure'],
    ['08001', 'transient', 'cannot establish a connection'],
    ['57P01', 'transient', 'admin shutdown'],
    ['57P02', 'transient', 'crash shutdown'],
    ['57P03', 'transient', 'cannot connect now (starting up)'],
    ['57014', 'transient', 'query canceled (statement timeout)'],
    ['40001', 'transient', 'serialization failure'],
    ['40P01', 'transient', 'deadlock detected'],
    ['55P03', 'transient', 'lock not available'],
    ['53100', 'transient', 'disk full'],
    ['53200', 'transient', 'out of memory'],
    ['53300', 'transient', 'too many connections'],
    ['25006', 'transient', 'read-only transaction (a failover to a standby)'],
    ['42P01', 'transient', 'undefined table: a migration not applied yet'],
    ['42703', 'transient', 'undefined column: a deploy half done'],
    ['42501', 'transient', 'insufficient privilege'],
    ['XX000', 'transient', 'internal error of the database'],
    ['22P02', 'permanent', 'invalid text representation (invalid JSON)'],
    ['22P05', 'permanent', 'untranslatable character (\\u0000 in jsonb)'],
    ['22021', 'permanent', 'invalid byte sequence for the encoding'],
    ['22009', 'permanent', 'time zone displacement out of range'],
    ['22008', 'permanent', 'datetime field overflow'],
    ['22007', 'permanent', 'invalid datetime format'],
    ['22003', 'permanent', 'numeric value out of range'],
    ['22001', 'permanent', 'string data right truncation'],
    ['23502', 'permanent', 'not-null violation'],
    ['23505', 'permanent', 'unique violation an ON CONFLICT did not expect'],
    ['23514', 'permanent', 'check violation'],
    ['21000', 'permanent', 'cardinality: one statement touching a row twice'],
    ['54000', 'permanent', 'program limit: an index row too large'],
    ['54001', 'permanent', 'statement too complex (JSON nested too deep)'],
    ['42804', 'permanent', 'datatype mismatch'],
    ['40002', 'permanent', 'a deferred constraint failed at commit'],
    ['P0001', 'permanent', 'raised by our own function'],
  ];
  for (const [code, expected, what] of table) {
    const error = databaseError(code);
    const got = isRetryable(error) ? 'transient' : 'permanent';
    assert.equal(got, expected, `${code} (${what})`);
    assert.equal(isContentRefusal(error), expected === 'permanent', `${code} content refusal`);
    assert.equal(sqlStateOf(error), code);
  }
});

test('network errors and lost connections are transient; other errors are not', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']) {
    const error = Object.assign(new Error(`connect ${code}`), { code });
    assert.equal(isConnectionError(error), true, code);
    assert.equal(isRetryable(error), true, code);
    assert.equal(sqlStateOf(error), undefined, `${code} is not a SQLSTATE`);
  }
  for (const message of [
    'Connection terminated unexpectedly',
    'timeout exceeded when trying to connect',
    'Client has encountered a connection error and is not queryable',
    'Cannot use a pool after calling end on the pool',
  ]) {
    assert.equal(isRetryable(new Error(message)), true, message);
  }
  // A stage or driver throwing over one event's content: trying again fails the same way.
  assert.equal(isRetryable(new RangeError('reported weight must be a finite number')), false);
  assert.equal(isRetryable(new TypeError("Cannot read properties of null (reading 'x')")), false);
  assert.equal(isRetryable('a string'), false);
});

test('a HeraldError says itself whether it is retryable', () => {
  const transient = new HeraldError(ErrorCodes.DATABASE_UNAVAILABLE, 'down', { retryable: true });
  assert.equal(isRetryable(transient), true);
  assert.equal(isRetryable(new HeraldError(ErrorCodes.VALIDATION, 'bad')), false);
});

test('what server PostgreSQL raises for bad content is classified as a refusal of that content', async (t) => {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  t.after(() => client.end());
  const refusals = [
    ["SELECT '2024-01-01T12:00:00+20:00'::timestamptz", '22009'],
    [`SELECT '{"a":"\\ud83d"}'::jsonb`, '22P02'],
    [`SELECT '{"a":"\\u0000"}'::jsonb`, '22P05'],
    ["SELECT '99999999999999999999'::bigint", '22003'],
  ] as const;
  for (const [statement, code] of refusals) {
    const error = await client.query(statement).then(
      () => assert.fail(`${statement} should fail`),
      (e: unknown) => e,
    );
    assert.equal(sqlStateOf(error), code, statement);
    assert.equal(isRetryable(error), false, statement);
    assert.equal(isContentRefusal(error), true, statement);
  }
});
