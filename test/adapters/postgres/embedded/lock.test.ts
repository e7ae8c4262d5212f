import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  acquireDataDirLock,
  holderIsRunning,
  LOCK_FILE,
} from '../../../../src/adapters/postgres/embedded/lock.ts';
import { processStartTime } from '../../../../src/adapters/postgres/embedded/processes.ts';

async function dir(t: { after(fn: () => unknown): unknown }): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'herald-lock-'));
  t.after(() => rm(path, { recursive: true, force: true }));
  return path;
}

/** A pid that existed and is gone: a process that ran and exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

test('the lock holds DATA_DIR for one process: a second acquire is refused with the holder’s pid, a release frees it', async (t) => {
  const dataDir = await dir(t);
  const lock = await acquireDataDirLock(dataDir);
  assert.equal(lock.tookOverFrom, undefined);
  const written = JSON.parse(await readFile(join(dataDir, LOCK_FILE), 'utf8'));
  assert.equal(written.pid, process.pid);
  await assert.rejects(acquireDataDirLock(dataDir), (error: Error) => {
    assert.match(error.message, new RegExp(`in use by another herald \\(pid ${process.pid}\\)`));
    return true;
  });
  await lock.release();
  assert.equal(existsSync(join(dataDir, LOCK_FILE)), false);
  const again = await acquireDataDirLock(dataDir);
  await again.release();
});

test('a lock whose holder died is taken over, and says whose it was', async (t) => {
  const dataDir = await dir(t);
  const pid = deadPid();
  await writeFile(
    join(dataDir, LOCK_FILE),
    JSON.stringify({ pid, startedAt: 'boot+1', hostname: hostname() }),
  );
  const lock = await acquireDataDirLock(dataDir);
  assert.equal(lock.tookOverFrom?.pid, pid);
  assert.equal(JSON.parse(await readFile(join(dataDir, LOCK_FILE), 'utf8')).pid, process.pid);
  await lock.release();
});

test('a lock whose pid now belongs to another process (started at another time) is stale', async (t) => {
  const dataDir = await dir(t);
  // This very process, but "started" at another time: what a reused pid looks like.
  await writeFile(
    join(dataDir, LOCK_FILE),
    JSON.stringify({ pid: process.pid, startedAt: 'boot+1', hostname: hostname() }),
  );
  const lock = await acquireDataDirLock(dataDir);
  assert.equal(lock.tookOverFrom?.startedAt, 'boot+1');
  await lock.release();
});

test('a half-written lock (a crash while writing it) is stale; one held on another host is not', async (t) => {
  const dataDir = await dir(t);
  await writeFile(join(dataDir, LOCK_FILE), '{"pid": 12');
  const lock = await acquireDataDirLock(dataDir);
  await lock.release();

  await writeFile(
    join(dataDir, LOCK_FILE),
    JSON.stringify({ pid: deadPid(), startedAt: undefined, hostname: 'elsewhere' }),
  );
  await assert.rejects(
    acquireDataDirLock(dataDir),
    /in use by another herald \(pid \d+ on elsewhere\)/,
  );
});

test('holderIsRunning: alive with the same start time; not when the start time differs or the pid is gone', () => {
  const here = hostname();
  const me = { pid: process.pid, startedAt: processStartTime(process.pid), hostname: here };
  assert.equal(holderIsRunning(me), true);
  assert.equal(holderIsRunning({ ...me, startedAt: 'boot+1' }), false);
  assert.equal(holderIsRunning({ ...me, pid: deadPid() }), false);
  assert.equal(holderIsRunning({ ...me, pid: deadPid(), hostname: 'elsewhere' }), true);
});

test('release leaves alone a lock that another process took over meanwhile', async (t) => {
  const dataDir = await dir(t);
  const lock = await acquireDataDirLock(dataDir);
  const other = JSON.stringify({ pid: 1, startedAt: 'boot+0', hostname: hostname() });
  await writeFile(join(dataDir, LOCK_FILE), other);
  await lock.release();
  assert.equal(await readFile(join(dataDir, LOCK_FILE), 'utf8'), other);
});
