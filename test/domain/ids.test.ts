import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uuidv7 } from '../../src/domain/ids.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('uuidv7 sets the version and variant bits and leads with the time in milliseconds', () => {
  const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const id = uuidv7(now);
  assert.match(id, UUID_V7);
  assert.equal(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16), now);
});

test('uuidv7 ids are distinct across many refills of the random pool, and sort by time', () => {
  const ids = Array.from({ length: 5000 }, (_, i) => uuidv7(1_700_000_000_000 + i));
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, UUID_V7);
  assert.deepEqual([...ids].sort(), ids);
  // Same millisecond: the random part still differs.
  const same = Array.from({ length: 1000 }, () => uuidv7(1_700_000_000_000));
  assert.equal(new Set(same).size, same.length);
});
