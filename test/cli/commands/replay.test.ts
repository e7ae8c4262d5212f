import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStages, type Stage } from '../../../src/app/pipeline.ts';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';
import { herald } from './run-cli.ts';

/** Enrichment the test changes between processing and replay (a fixed rule). */
let rules = 1;
const versioned: Stage = {
  name: 'versioned',
  run({ enrichment }) {
    enrichment.rules = rules;
  },
};

test('herald replay: a dry run prints per type what would go and change, the replay then does it, and the record says who and when', async (t) => {
  const platform = await startTestPlatform(
    t,
    { REPLAY_POLL_MS: '20', AGENTS_ENABLED: 'false' },
    { stages: [...defaultStages, versioned] },
  );
  const { url } = platform;
  await postJson(`${url}/api/v1/events/batch`, [
    { id: 'c1', user_id: 'u1', event_type: 'click' },
    { id: 'c2', user_id: 'u2', event_type: 'click' },
    { id: 'v1', user_id: 'u1', event_type: 'view' },
  ]);
  await eventually(async () =>
    (await getJson(`${url}/metrics/summary`)).body.processed === 3 ? true : undefined,
  );
  rules = 2;

  const dry = await herald([
    'replay',
    'create',
    '--target',
    'pipeline',
    '--from',
    '1h',
    '--topic',
    'analytics',
    '--dry-run',
    '--url',
    url,
  ]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /\(dry run\): pipeline/);
  assert.match(dry.stdout, /completed: 3 read, 3 would go, 0 skipped \(rederived 3\)/);
  assert.match(dry.stdout, /click\s+2\s+0/);
  assert.match(dry.stdout, /view\s+1\s+0/);
  assert.match(dry.stdout, /what would change \(first 3\):\n\s+\S+: rules: 1 → 2/);

  const real = await herald([
    'replay',
    'create',
    '--target',
    'pipeline',
    '--from',
    '1h',
    '--topic',
    'analytics',
    '--type',
    'click',
    '--wait',
    '--url',
    url,
  ]);
  assert.equal(real.code, 0, real.stderr);
  assert.match(real.stdout, /completed: 2 read, 2 sent, 0 skipped \(rederived 2\)/);
  assert.match(real.stdout, /created by anonymous/);

  const list = await herald(['replay', 'list', '--json', '--url', url]);
  const { replays } = JSON.parse(list.stdout) as { replays: { id: string; dry_run: boolean }[] };
  assert.deepEqual(
    replays.map((r) => r.dry_run),
    [false, true],
  );
  const show = await herald(['replay', 'show', replays[0]?.id ?? '', '--url', url]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /types click/);
  const finished = await herald(['replay', 'pause', replays[0]?.id ?? '', '--url', url]);
  assert.equal(finished.code, 1);
  assert.match(finished.stderr, /cannot pause a replay that is completed/);
  const missing = await herald(['replay', 'show', 'nope', '--url', url]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no replay with id "nope"/);
});

test('herald replay refuses bad usage and a range outside the log’s retention', async (t) => {
  const platform = await startTestPlatform(t, {
    REPLAY_POLL_MS: '20',
    AGENTS_ENABLED: 'false',
    DEDUPE_WINDOW: '1s',
  });
  const { url } = platform;
  const noTarget = await herald(['replay', 'create', '--from', '1h', '--url', url]);
  assert.equal(noTarget.code, 2);
  assert.match(noTarget.stderr, /--target is required/);
  const noEndpoint = await herald([
    'replay',
    'create',
    '--target',
    'webhook',
    '--from',
    '1h',
    '--url',
    url,
  ]);
  assert.equal(noEndpoint.code, 2);
  const badTime = await herald([
    'replay',
    'create',
    '--target',
    'pipeline',
    '--from',
    'yesterday',
    '--url',
    url,
  ]);
  assert.equal(badTime.code, 2);

  await postJson(`${url}/api/v1/events/analytics`, { id: 'x', user_id: 'u', event_type: 'click' });
  await eventually(async () =>
    (await getJson(`${url}/metrics/summary`)).body.processed === 1 ? true : undefined,
  );
  await platform.broker.log.roll?.(0);
  // Past the dedupe window, which the segment's rows are on this transport.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await platform.broker.log.prune(new Date(Date.now() + 60_000));
  const outside = await herald([
    'replay',
    'create',
    '--target',
    'pipeline',
    '--from',
    '7d',
    '--url',
    url,
  ]);
  assert.equal(outside.code, 1);
  assert.match(
    outside.stderr,
    /422 .*before the log's retention: events accepted before \S+Z may be gone/,
  );
});
