import assert from 'node:assert/strict';
import { test } from 'node:test';
import { delayAfter, loginKeys, waitLeft } from '../../src/domain/login-throttling.ts';

test('the free failures wait nothing; then each failure doubles the wait, up to the cap', () => {
  const waits = Array.from({ length: 10 }, (_, failures) => delayAfter(failures, 3, 1000, 30_000));
  assert.deepEqual(waits, [0, 0, 0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  assert.equal(delayAfter(5000, 3, 1000, 30_000), 30_000, 'no overflow past the cap');
});

test('what is left of a wait counts from the latest failure', () => {
  const policy = { baseDelayMs: 1000, maxDelayMs: 30_000 };
  assert.equal(waitLeft(undefined, 3, policy), 0);
  assert.equal(waitLeft({ count: 2, msSinceLatest: 0 }, 3, policy), 0);
  assert.equal(waitLeft({ count: 4, msSinceLatest: 500 }, 3, policy), 1500);
  assert.equal(waitLeft({ count: 4, msSinceLatest: 2500 }, 3, policy), 0);
});

test('the counters: one per account, one per account and address', () => {
  assert.deepEqual(loginKeys('u-1', '10.0.0.1'), {
    account: 'account:u-1',
    accountAddress: 'account-address:u-1|10.0.0.1',
  });
  assert.equal(loginKeys('u-1', null).accountAddress, 'account-address:u-1|unknown');
});
