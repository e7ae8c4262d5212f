import assert from 'node:assert/strict';
import { test } from 'node:test';
import { screenSchema } from '../../../src/domain/schemas/guard.ts';
import { SCHEMA_LIMITS } from '../../../src/domain/schemas/model.ts';
import { compilePattern } from '../../../src/domain/schemas/patterns.ts';

const paths = (schema: unknown) => screenSchema(schema).map((p) => p.path);

test('a contract using the whole supported vocabulary passes the screen', () => {
  const schema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'purchase',
    type: 'object',
    required: ['amount'],
    additionalProperties: false,
    properties: {
      amount: { type: 'number', exclusiveMinimum: 0 },
      currency: { type: 'string', pattern: '^[A-Z]{3}$', default: 'EUR' },
      email: { type: 'string', format: 'email' },
      tags: { type: 'array', items: { type: 'string' }, uniqueItems: true, maxItems: 20 },
      price: { $ref: '#/$defs/money' },
      id: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
    },
    $defs: { money: { type: 'object', properties: { value: { type: 'number' } } } },
  };
  assert.deepEqual(screenSchema(schema), []);
});

test('remote and dangling references are refused by name, and nothing is fetched to check them', () => {
  const problems = screenSchema({
    type: 'object',
    properties: {
      a: { $ref: 'https://schemas.example/remote.json' },
      b: { $ref: 'other.json#/x' },
      c: { $ref: '#/$defs/missing' },
    },
  });
  assert.deepEqual(
    problems.map((p) => p.path),
    ['/properties/a/$ref', '/properties/b/$ref', '/properties/c/$ref'],
  );
  assert.match(problems[0]?.message ?? '', /only local references .* would not be fetched/);
  assert.match(problems[2]?.message ?? '', /points at nothing/);
});

test('keywords that change what references mean, or that nobody knows, are refused', () => {
  const problems = screenSchema({
    type: 'object',
    $id: 'https://example.com/s',
    properties: {
      a: { $dynamicRef: '#meta' },
      b: { $anchor: 'b' },
      c: { definitions: {} },
      d: { isEven: true },
      e: { items: [{ type: 'string' }] },
      f: { type: 'string', format: 'credit-card' },
    },
  });
  assert.deepEqual(
    problems.map((p) => p.path),
    [
      '/$id',
      '/properties/a/$dynamicRef',
      '/properties/b/$anchor',
      '/properties/c/definitions',
      '/properties/d/isEven',
      '/properties/e/items',
      '/properties/f/format',
    ],
  );
  assert.match(problems[4]?.message ?? '', /unknown keyword "isEven"/);
  assert.match(problems[6]?.message ?? '', /unknown format "credit-card"/);
});

test('$schema must be draft 2020-12, at the root; the root must describe an object', () => {
  assert.deepEqual(paths({ $schema: 'http://json-schema.org/draft-07/schema#' }), ['/$schema']);
  assert.deepEqual(paths({ type: 'string' }), ['/type']);
  assert.deepEqual(paths([]), ['']);
});

test('a schema larger than the byte limit is refused before it is walked', () => {
  const huge = {
    type: 'object',
    properties: Object.fromEntries(
      Array.from({ length: 5000 }, (_, i) => [`property_${i}`, { type: 'string' }]),
    ),
  };
  const problems = screenSchema(huge);
  assert.equal(problems.length, 1);
  assert.match(problems[0]?.message ?? '', new RegExp(`at most ${SCHEMA_LIMITS.maxBytes}`));
});

test('a schema nested deeper than the limit is refused at the first level too deep', () => {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i <= SCHEMA_LIMITS.maxDepth; i++) {
    schema = { type: 'object', properties: { a: schema } };
  }
  const problems = screenSchema(schema);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.path, '/properties/a'.repeat(SCHEMA_LIMITS.maxDepth + 1));
  assert.match(problems[0]?.message ?? '', /nest at most 12 levels/);
});

test('patterns RE2 cannot run in linear time are refused; catastrophic ones run in linear time', () => {
  const problems = screenSchema({
    type: 'object',
    properties: {
      lookahead: { type: 'string', pattern: '^(?=a)a$' },
      backreference: { type: 'string', pattern: '^(a)\\1$' },
      long: { type: 'string', pattern: 'a'.repeat(SCHEMA_LIMITS.maxPatternLength + 1) },
    },
    patternProperties: { '(?<!x)y': true },
  });
  assert.deepEqual(
    problems.map((p) => p.path),
    [
      '/properties/lookahead/pattern',
      '/properties/backreference/pattern',
      '/properties/long/pattern',
      '/patternProperties/(?<!x)y',
    ],
  );
  // The classic catastrophic pattern is accepted: RE2 matches it without backtracking.
  assert.deepEqual(paths({ type: 'object', properties: { a: { pattern: '^(a+)+$' } } }), []);
  const evil = compilePattern('^(a+)+$');
  assert.equal(evil.test(`${'a'.repeat(50_000)}!`), false);
});

test('ECMA-262 escapes are understood: \\u and \\u{…} code points', () => {
  assert.equal(compilePattern('^caf\\u00e9$').test('café'), true);
  assert.equal(compilePattern('^\\u{1F600}$').test('😀'), true);
  assert.equal(compilePattern('^a\\\\u0041$').test('a\\u0041'), true, 'an escaped backslash stays');
});

test('uniqueItems needs a bound on the items it compares pairwise', () => {
  const problems = screenSchema({
    type: 'object',
    properties: {
      a: { type: 'array', uniqueItems: true },
      b: { uniqueItems: true, maxItems: 1e6 },
    },
  });
  assert.deepEqual(
    problems.map((p) => p.path),
    ['/properties/a/uniqueItems', '/properties/b/uniqueItems'],
  );
});
