import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heapFlagsToAdd } from '../../src/cli/heap-flags.ts';

const ALL = ['--max-semi-space-size=16', '--heap-growing-percent=100'];

test('the server commands get the heap flags; client and one-shot commands do not', () => {
  for (const command of ['start', 'api', 'worker']) {
    assert.deepEqual(heapFlagsToAdd(command, [], undefined), ALL, command);
  }
  for (const command of [undefined, 'migrate', 'config', 'version', 'help', 'produce']) {
    assert.deepEqual(heapFlagsToAdd(command, [], undefined), [], String(command));
  }
});

test('flags already given (by node flag or NODE_OPTIONS) are not added again', () => {
  // Once re-executed with them, nothing is left to add: no loop.
  assert.deepEqual(heapFlagsToAdd('api', ALL, undefined), []);
  assert.deepEqual(heapFlagsToAdd('api', ['--cpu-prof'], undefined), ALL);
  // The operator's own values win, in either spelling, with or without a value.
  assert.deepEqual(heapFlagsToAdd('api', ['--max_semi_space_size=64'], undefined), [ALL[1]]);
  assert.deepEqual(heapFlagsToAdd('api', [], '--heap-growing-percent=50 --inspect'), [ALL[0]]);
  assert.deepEqual(heapFlagsToAdd('worker', [], '  --max-heap-size=512  '), [ALL[1]]);
  assert.deepEqual(heapFlagsToAdd('worker', ['--min-semi-space-size', '4'], ''), [ALL[1]]);
  // A cap of the old generation alone leaves the young generation to us.
  assert.deepEqual(heapFlagsToAdd('start', [], '--max-old-space-size=400'), ALL);
});
