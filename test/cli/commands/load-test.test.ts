import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestPlatform } from '../../helpers/platform.ts';
import { deadUrl, herald } from './run-cli.ts';

test('herald load-test --json reports throughput, errors and ordered HDR percentiles', async (t) => {
  const { url } = await startTestPlatform(t);
  const run = await herald([
    'load-test',
    '--events',
    '60',
    '--rate',
    '200',
    '--concurrency',
    '8',
    '--json',
    '--url',
    url,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.sent, 60);
  assert.equal(report.ok, 60);
  assert.equal(report.errors, 0);
  assert.equal(report.offered_rate, 200);
  assert.ok(report.throughput_per_s > 0);
  // 60 events offered at 200/s take at least 295 ms.
  assert.ok(report.duration_s >= 0.29, `duration ${report.duration_s}`);
  const l = report.latency_ms;
  assert.ok(l.p50 > 0 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
});

test('herald load-test prints a readable report and exits 1 when requests fail', async (t) => {
  const { url } = await startTestPlatform(t);
  const ok = await herald(['load-test', '--events', '20', '--rate', '0', '--url', url]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /accepted {4}20 /);
  assert.match(ok.stdout, /latency ms {2}p50 [\d.]+ {2}p90 [\d.]+ {2}p95 [\d.]+ {2}p99 [\d.]+/);

  const down = await herald(['load-test', '--events', '3', '--json', '--url', await deadUrl()]);
  assert.equal(down.code, 1);
  const report = JSON.parse(down.stdout);
  assert.equal(report.errors, 3);
  assert.deepEqual(Object.keys(report.errors_by_kind), ['ECONNREFUSED']);
});

test('herald load-test --help documents the options and bad values exit 2', async () => {
  const help = await herald(['load-test', '--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--events', '--rate', '--concurrency', '--json']) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  const bad = await herald(['load-test', '--concurrency', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--concurrency: must be between 1 and 10000/);
});
