import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findPostgresBinaries } from '../../../../src/adapters/postgres/embedded/binaries.ts';
import { initCluster, startCluster } from '../../../../src/adapters/postgres/embedded/cluster.ts';
import {
  clearLeftoverServer,
  inspectPostmaster,
  POSTMASTER_PID,
} from '../../../../src/adapters/postgres/embedded/postmaster.ts';
import { isAlive, isHeraldProcess } from '../../../../src/adapters/postgres/embedded/processes.ts';
import { resolveRunAs } from '../../../../src/adapters/postgres/embedded/run-as.ts';
import { serverSettings } from '../../../../src/adapters/postgres/embedded/server-settings.ts';

async function clusterDir(t: { after(fn: () => unknown): unknown }): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'herald-postmaster-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  await chmod(base, 0o755);
  const dir = join(base, 'postgres');
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

test('no postmaster.pid: nothing to deal with', async (t) => {
  assert.deepEqual(await inspectPostmaster(await clusterDir(t)), { kind: 'none' });
});

test('a postmaster.pid whose server is gone is stale and removed', async (t) => {
  const dir = await clusterDir(t);
  const pid = deadPid();
  await writeFile(join(dir, POSTMASTER_PID), `${pid}\n${dir}\n1700000000\n5432\n`);
  assert.deepEqual(await clearLeftoverServer(dir), { kind: 'stale', pid });
  assert.equal(existsSync(join(dir, POSTMASTER_PID)), false);
});

test('a postmaster.pid whose pid now belongs to an unrelated process is stale too (PostgreSQL alone would refuse to start)', async (t) => {
  const dir = await clusterDir(t);
  // This test process: alive, but no postgres on this directory.
  await writeFile(join(dir, POSTMASTER_PID), `${process.pid}\n${dir}\n1700000000\n5432\n`);
  assert.deepEqual(await clearLeftoverServer(dir), { kind: 'stale', pid: process.pid });
  assert.ok(isAlive(process.pid), 'the unrelated process is not signalled');
  assert.equal(existsSync(join(dir, POSTMASTER_PID)), false);
});

test('a server still running whose Herald is gone is an orphan: it is stopped with a fast shutdown', async (t) => {
  const dir = await clusterDir(t);
  const runAs = resolveRunAs(process.env.EMBEDDED_DATABASE_USER ?? 'postgres');
  if (runAs !== undefined) await chown(dir, runAs.uid, runAs.gid);
  const options = {
    binaries: await findPostgresBinaries(),
    dir,
    logFile: join(dir, '..', 'postgres.log'),
    socketDir: dir,
    runAs,
    settings: serverSettings({ poolSize: 2, durable: false }),
    durable: false,
  };
  await initCluster(options);
  const server = await startCluster(options);
  t.after(() => server.stop());
  // Its parent is this test process, no Herald: what a killed Herald's server looks like.
  assert.deepEqual(await inspectPostmaster(dir), { kind: 'orphan', pid: server.pid });
  assert.deepEqual(await clearLeftoverServer(dir), { kind: 'orphan', pid: server.pid });
  assert.equal(isAlive(server.pid), false, 'stopped');
  assert.equal(existsSync(join(dir, POSTMASTER_PID)), false, 'cleanly: it removed its pid file');
});

test('a Herald process is told by its entry point on the command line', async (t) => {
  const child = spawn(process.execPath, [
    '-e',
    'setInterval(() => {}, 1000)',
    '/opt/x/bin/herald.js',
    'start',
  ]);
  t.after(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.once('spawn', resolve));
  assert.equal(isHeraldProcess(child.pid ?? 0), true);
  assert.equal(isHeraldProcess(process.pid), false, 'a test runner is not one');
});
