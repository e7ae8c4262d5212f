import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommitter } from '../../src/app/group-commit.ts';

function deferred() {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { released, release };
}

test('submissions made while a flush runs share the next flush, each getting its own results', async () => {
  const flushes: number[][] = [];
  const gate = deferred();
  const committer = new GroupCommitter<number, string>(
    async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await gate.released;
      return items.map((i) => `r${i}`);
    },
    { maxBatch: 100 },
  );
  const first = committer.submit([1]);
  await new Promise((resolve) => setImmediate(resolve));
  const rest = [committer.submit([2, 3]), committer.submit([4]), committer.submit([5])];
  gate.release();
  assert.deepEqual(await first, ['r1']);
  assert.deepEqual(await Promise.all(rest), [['r2', 'r3'], ['r4'], ['r5']]);
  assert.deepEqual(flushes, [[1], [2, 3, 4, 5]]);
});

test('submissions in the same turn of the event loop are flushed together', async () => {
  const flushes: number[][] = [];
  const committer = new GroupCommitter<number, number>(
    async (items) => {
      flushes.push(items);
      return items;
    },
    { maxBatch: 100 },
  );
  await Promise.all([committer.submit([1]), committer.submit([2]), committer.submit([3])]);
  assert.deepEqual(flushes, [[1, 2, 3]]);
});

test('a flush never exceeds maxBatch items unless one submission alone is larger', async () => {
  const flushes: number[][] = [];
  const committer = new GroupCommitter<number, number>(
    async (items) => {
      flushes.push(items);
      return items;
    },
    { maxBatch: 3 },
  );
  await Promise.all([
    committer.submit([1, 2]),
    committer.submit([3, 4]),
    committer.submit([5, 6, 7, 8]),
  ]);
  assert.deepEqual(flushes, [
    [1, 2],
    [3, 4],
    [5, 6, 7, 8],
  ]);
});

test('a failed flush rejects every submission in it, and later flushes still run', async () => {
  let fail = true;
  const committer = new GroupCommitter<number, number>(
    async (items) => {
      if (fail) throw new Error('database down');
      return items;
    },
    { maxBatch: 10 },
  );
  const results = await Promise.allSettled([committer.submit([1]), committer.submit([2])]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  fail = false;
  assert.deepEqual(await committer.submit([3]), [3]);
  await committer.drained();
});

test('while a flush runs, small submissions wait for it rather than flushing beside it, until a full batch is waiting', async () => {
  const flushes: number[][] = [];
  const gate = deferred();
  const committer = new GroupCommitter<number, number>(
    async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await gate.released;
      return items;
    },
    { maxBatch: 4, maxInFlight: 3 },
  );
  const first = committer.submit([1]);
  await new Promise((resolve) => setImmediate(resolve));
  const small = [committer.submit([2]), committer.submit([3])];
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(flushes, [[1]], 'small submissions wait for the running flush');
  // Six items waiting: more than a batch, so flushes start beside the blocked one.
  const full = committer.submit([4, 5, 6, 7]);
  assert.deepEqual(await Promise.all(small), [[2], [3]]);
  assert.deepEqual(await full, [4, 5, 6, 7]);
  assert.deepEqual(flushes, [[1], [2, 3], [4, 5, 6, 7]]);
  gate.release();
  assert.deepEqual(await first, [1]);
});
