import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import {
  chooseSocketDir,
  fitsSocketPath,
  socketPath,
  socketPathLimit,
} from '../../../../src/adapters/postgres/embedded/socket-dir.ts';

test('the socket path limit is sun_path less its NUL: 107 bytes on Linux, 103 on macOS', () => {
  assert.equal(socketPathLimit('linux'), 107);
  assert.equal(socketPathLimit('darwin'), 103);
  assert.equal(socketPath('/d'), '/d/.s.PGSQL.5432');
});

test('a socket path fits up to the limit exactly, in bytes (not characters)', () => {
  const suffix = '/.s.PGSQL.5432'.length;
  const exactly = `/${'a'.repeat(107 - suffix - 1)}`;
  assert.equal(socketPath(exactly).length, 107);
  assert.equal(fitsSocketPath(exactly, 'linux'), true);
  assert.equal(fitsSocketPath(`${exactly}b`, 'linux'), false);
  assert.equal(fitsSocketPath(exactly, 'darwin'), false);
  // 'é' is two bytes in UTF-8.
  assert.equal(fitsSocketPath(`/${'é'.repeat(50)}`, 'linux'), false);
});

test('the cluster listens in its own directory when the path fits, else in a fresh short one', async (t) => {
  const short = await chooseSocketDir('/srv/herald/data/postgres', 'linux');
  assert.deepEqual(short, { dir: '/srv/herald/data/postgres', temporary: false });

  const deep = `/srv/${'deep/'.repeat(30)}data/postgres`;
  const chosen = await chooseSocketDir(deep, 'linux');
  t.after(() => rm(chosen.dir, { recursive: true, force: true }));
  assert.equal(chosen.temporary, true);
  assert.notEqual(chosen.dir, deep);
  assert.ok(fitsSocketPath(chosen.dir, 'linux'));
});
