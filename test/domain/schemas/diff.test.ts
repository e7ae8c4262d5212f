import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffSchemas } from '../../../src/domain/schemas/diff.ts';

test('the diff names each added, removed and changed place, and list entries that came and went', () => {
  const before = {
    type: 'object',
    required: ['amount'],
    properties: { amount: { type: 'number', minimum: 0 }, legacy: { type: 'string' } },
  };
  const after = {
    type: 'object',
    required: ['amount', 'currency'],
    properties: { amount: { type: 'number', minimum: 1 }, currency: { enum: ['EUR'] } },
  };
  assert.deepEqual(diffSchemas(before, after), [
    { path: '/required', change: 'added', to: 'currency' },
    { path: '/properties/amount/minimum', change: 'changed', from: 0, to: 1 },
    { path: '/properties/legacy', change: 'removed', from: { type: 'string' } },
    { path: '/properties/currency', change: 'added', to: { enum: ['EUR'] } },
  ]);
});

test('equal schemas, in any key or list order, have no diff', () => {
  assert.deepEqual(
    diffSchemas({ type: ['string', 'null'], a: 1, b: 2 }, { b: 2, a: 1, type: ['null', 'string'] }),
    [],
  );
});

test('a property name with a slash is escaped in the pointer', () => {
  assert.deepEqual(diffSchemas({ properties: {} }, { properties: { 'a/b': true } }), [
    { path: '/properties/a~1b', change: 'added', to: true },
  ]);
});
