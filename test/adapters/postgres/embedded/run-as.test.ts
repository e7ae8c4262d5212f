import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  chownTree,
  resolveRunAs,
  unreachableBy,
} from '../../../../src/adapters/postgres/embedded/run-as.ts';

test('not root: the cluster runs as Herald’s own user', () => {
  assert.equal(resolveRunAs('postgres', 1000), undefined);
});

test('root: the cluster runs as the named user, with its uid, gid and groups', () => {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
  const runAs = resolveRunAs('postgres', 0);
  assert.equal(runAs?.name, 'postgres');
  assert.equal(runAs?.uid, uid);
  assert.ok(runAs?.groups.includes(runAs.gid));
});

test('root and no such user: refused, saying how to make one or what else to set', () => {
  assert.throws(
    () => resolveRunAs('herald-no-such-user', 0),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'HERALD_CONFIG_INVALID');
      assert.match(error.message, /^EMBEDDED_DATABASE_USER: PostgreSQL refuses to run as root/);
      assert.match(error.message, /useradd --system herald-no-such-user/);
      assert.match(error.message, /DATABASE_URL/);
      return true;
    },
  );
  assert.throws(() => resolveRunAs('root', 0), /"root" is root/);
});

test('unreachableBy names the first directory on the way that the user cannot enter', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'herald-runas-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const user = { name: 'someone', uid: 4242, gid: 4242, groups: [4242] };
  await mkdir(join(base, 'open', 'data'), { recursive: true });
  await chmod(base, 0o700);
  assert.equal(await unreachableBy(join(base, 'open', 'data'), user), base);
  await chmod(base, 0o711);
  assert.equal(await unreachableBy(join(base, 'open', 'data'), user), undefined);
  assert.equal(
    await unreachableBy(join(base, 'open', 'not-yet'), user),
    undefined,
    'not created yet',
  );
});

test('chownTree hands a whole tree to a user', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('only root can chown to another user');
    return;
  }
  const base = await mkdtemp(join(tmpdir(), 'herald-chown-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  await mkdir(join(base, 'a', 'b'), { recursive: true });
  await writeFile(join(base, 'a', 'b', 'f'), 'x');
  await chownTree(base, 4242, 4343);
  for (const path of [base, join(base, 'a'), join(base, 'a', 'b', 'f')]) {
    const info = await stat(path);
    assert.deepEqual([info.uid, info.gid], [4242, 4343], path);
  }
});
