/**
 * Replays of a range through the platform (API, worker, PostgreSQL): what a dry run counts is
 * what the replay then does; the pipeline target re-derives enrichment without counting an
 * event twice in analytics; a webhook backfill delivers each event once, with its original
 * webhook-id, to a receiver that verifies it with the standardwebhooks library; the agent target
 * runs the agent once per event per replay, even when a batch is redone; pause, resume and
 * cancel; a range before the log's retention is refused naming the bound.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { defaultStages, type Stage } from '../../../src/app/pipeline.ts';
import type { RunningPlatform } from '../../../src/platform/start.ts';
import { eventually } from '../../helpers/eventually.ts';
import { startFakeHttp, status } from '../../helpers/fake-http.ts';
import { type Cleanup, getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';

/** A stage whose output a test changes between processing and replay (a "fix"). */
function versioned(): { stage: Stage; set(version: number): void } {
  let version = 1;
  return {
    stage: {
      name: 'versioned',
      run({ enrichment }) {
        enrichment.rules = version;
      },
    },
    set(next) {
      version = next;
    },
  };
}

interface ReplayJson {
  id: string;
  status: string;
  progress: {
    read: number;
    sent: number;
    skipped: number;
    by_type: Record<string, { sent: number; skipped: number }>;
    outcomes: Record<string, number>;
  };
  samples: { event_id: string; before: Record<string, unknown>; after: Record<string, unknown> }[];
  actions: { action: string; actor: string }[];
  created_by: string;
  last_error: string | null;
}

const SETTINGS = {
  AGENTS_ENABLED: 'false',
  REPLAY_POLL_MS: '20',
  NOTIFY_POLL_MS: '20',
  WEBHOOK_ALLOW_PRIVATE_TARGETS: '127.0.0.1',
  RETENTION_INTERVAL: '1d',
};

async function start(t: Cleanup, settings: Record<string, string> = {}, stages?: Stage[]) {
  return startTestPlatform(
    t,
    { ...SETTINGS, ...settings },
    { database: 'postgres', ...(stages === undefined ? {} : { stages }) },
  );
}

async function ingest(url: string, events: Record<string, unknown>[]) {
  const response = await postJson(`${url}/api/v1/events/batch`, events);
  assert.equal(response.status, 202, JSON.stringify(response.body));
}

async function processed(platform: RunningPlatform, n: number) {
  await eventually(async () => {
    const [row] = await platform.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM processed_events',
    );
    return row?.n === n ? true : undefined;
  });
}

async function replay(url: string, body: Record<string, unknown>): Promise<ReplayJson> {
  const response = await postJson(`${url}/api/v1/replays`, body);
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body as unknown as ReplayJson;
}

async function finished(url: string, id: string): Promise<ReplayJson> {
  return eventually(
    async () => {
      const { body } = await getJson(`${url}/api/v1/replays/${id}`);
      const r = body as unknown as ReplayJson;
      return ['completed', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
    },
    { timeoutMs: 60_000, message: `replay ${id} to finish` },
  );
}

const rollupTotal = async (platform: RunningPlatform) => {
  const [row] = await platform.db.query<{ n: number }>(
    `SELECT coalesce(sum(n), 0)::int AS n FROM analytics_counts WHERE grain = 'day'`,
  );
  return row?.n ?? 0;
};

const since = () => new Date(Date.now() - 60_000).toISOString();

describe('replays of a range', () => {
  test('a pipeline replay re-derives enrichment in place, as its dry run said, and counts no event twice in analytics', async (t) => {
    const rules = versioned();
    const platform = await start(t, {}, [...defaultStages, rules.stage]);
    const { url } = platform;
    const from = since();
    await ingest(url, [
      ...Array.from({ length: 6 }, (_, i) => ({
        id: `a${i}`,
        user_id: `u${i}`,
        event_type: 'click',
      })),
      ...Array.from({ length: 3 }, (_, i) => ({
        id: `v${i}`,
        user_id: `u${i}`,
        event_type: 'view',
      })),
      { id: 'c0', molecule_id: 'm0', researcher: 'r', data: { formula: 'H2O', weight: 18.015 } },
    ]);
    await processed(platform, 10);
    const totals = await rollupTotal(platform);
    assert.equal(totals, 10);

    rules.set(2);
    const dry = await finished(
      url,
      (await replay(url, { target: 'pipeline', from, topics: ['analytics'], dry_run: true })).id,
    );
    assert.equal(dry.status, 'completed');
    assert.deepEqual(dry.progress.by_type, {
      click: { sent: 6, skipped: 0 },
      view: { sent: 3, skipped: 0 },
    });
    assert.equal(dry.samples[0]?.before.rules, 1);
    assert.equal(dry.samples[0]?.after.rules, 2);
    const [unchanged] = await platform.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM processed_events WHERE enrichment->>'rules' = '1'`,
    );
    assert.equal(unchanged?.n, 10, 'a dry run changes nothing');

    const real = await finished(
      url,
      (await replay(url, { target: 'pipeline', from, topics: ['analytics'] })).id,
    );
    assert.deepEqual(real.progress, dry.progress, 'the replay does what its dry run counted');
    const rows = await platform.db.query<{
      topic: string;
      rules: string;
      processed_at: Date;
      received: string;
    }>(
      `SELECT topic, enrichment->>'rules' AS rules, processed_at, enrichment->>'processed_at' AS received
       FROM processed_events ORDER BY event_id`,
    );
    for (const row of rows) {
      assert.equal(row.rules, row.topic === 'analytics' ? '2' : '1', `${row.topic} rules`);
      assert.equal(row.received, row.processed_at.toISOString(), 'the times stay as processed');
    }
    assert.equal(await rollupTotal(platform), totals, 'analytics totals unchanged');

    const again = await finished(
      url,
      (await replay(url, { target: 'pipeline', from, topics: ['analytics'] })).id,
    );
    assert.deepEqual(again.progress.outcomes, { unchanged: 9 });
  });

  test('a webhook backfill delivers each event once with its original webhook-id, verified by the receiver', async (t) => {
    const receiver = await startFakeHttp(t, status(204));
    const platform = await start(t);
    const { url } = platform;
    const from = since();
    const ids = Array.from({ length: 8 }, (_, i) => `click-${i}`);
    await ingest(url, [
      ...ids.map((id, i) => ({ id, user_id: `u${i % 3}`, event_type: 'click' })),
      { id: 'view-0', user_id: 'u0', event_type: 'view' },
    ]);
    await processed(platform, 9);
    // The endpoint is added today: the events of the range were accepted before it existed.
    const endpoint = await postJson(`${url}/api/v1/notifications/webhooks`, {
      url: `${receiver.url}/hook`,
      event_types: ['click'],
    });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    const endpointId = endpoint.body.id as string;

    const dry = await finished(
      url,
      (
        await replay(url, {
          target: 'webhook',
          endpoint_id: endpointId,
          from,
          topics: ['analytics'],
          dry_run: true,
        })
      ).id,
    );
    assert.deepEqual(dry.progress.outcomes, { delivery_queued: 8, not_subscribed: 1 });
    const real = await finished(
      url,
      (
        await replay(url, {
          target: 'webhook',
          endpoint_id: endpointId,
          from,
          topics: ['analytics'],
        })
      ).id,
    );
    assert.deepEqual(real.progress, dry.progress);
    await eventually(() => (receiver.requests.length >= 8 ? true : undefined));
    const webhook = new Webhook(endpoint.body.secret as string);
    const delivered = receiver.requests.map((request) => {
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([k, v]) => [k, String(v)]),
      );
      const payload = webhook.verify(request.text, headers) as { type: string };
      assert.equal(payload.type, 'click');
      return headers['webhook-id'];
    });
    assert.deepEqual(
      [...delivered].sort(),
      [...ids].sort(),
      'each event once, its id as webhook-id',
    );

    const second = await finished(
      url,
      (
        await replay(url, {
          target: 'webhook',
          endpoint_id: endpointId,
          from,
          topics: ['analytics'],
        })
      ).id,
    );
    assert.deepEqual(second.progress.outcomes, { already_delivered: 8, not_subscribed: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(receiver.requests.length, 8, 'a second backfill sends nothing again');
  });

  test('the agent target runs the agent once per event per replay, even when a batch is read again', async (t) => {
    const platform = await start(t, { AGENTS_ENABLED: 'true', LLM_BASE_URL: '' });
    const { url } = platform;
    const from = since();
    await ingest(url, [
      ...Array.from({ length: 4 }, (_, i) => ({
        id: `m${i}`,
        molecule_id: `mol-${i}`,
        researcher: 'r',
        data: { formula: 'C2H6O' },
      })),
    ]);
    await processed(platform, 4);
    // The agents' own consumer group ran on each event first.
    await eventually(async () => ((await agentRuns(platform)) === 4 ? true : undefined));
    const runsBefore = await agentRuns(platform);
    const done = await finished(url, (await replay(url, { target: 'agent', from })).id);
    assert.deepEqual(done.progress.outcomes, { agent_run: 4 });
    assert.equal(await agentRuns(platform), runsBefore + 4);
    // As after a crash before the cursor was committed: the replay reads its range again.
    await platform.db.query(
      `UPDATE replays SET status = 'running', cursor = NULL, finished_at = NULL, events_read = 0,
         sent = 0, skipped = 0, by_type = '{}', outcomes = '{}' WHERE id = $1`,
      [done.id],
    );
    platform.logOverTime?.replays.wake();
    const redone = await finished(url, done.id);
    assert.deepEqual(redone.progress.outcomes, { already_run: 4 });
    assert.equal(await agentRuns(platform), runsBefore + 4, 'no event got a second run');
  });

  test('pause, resume and cancel are recorded with who asked, and a paused replay sends nothing', async (t) => {
    const platform = await start(t);
    const { url } = platform;
    const from = since();
    await ingest(
      url,
      Array.from({ length: 40 }, (_, i) => ({ id: `e${i}`, user_id: 'u', event_type: 'click' })),
    );
    await processed(platform, 40);
    const slow = await replay(url, { target: 'pipeline', from, topics: ['analytics'], rate: 10 });
    await eventually(async () => {
      const { body } = await getJson(`${url}/api/v1/replays/${slow.id}`);
      return (body as unknown as ReplayJson).progress.read > 0 ? true : undefined;
    });
    const paused = await postJson(`${url}/api/v1/replays/${slow.id}/pause`, {});
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.status, 'paused');
    // Once its runner let go, a paused replay does not move.
    await eventually(async () => {
      const [row] = await platform.db.query<{ owner: string | null }>(
        'SELECT lease_owner AS owner FROM replays WHERE id = $1',
        [slow.id],
      );
      return row?.owner === null ? true : undefined;
    });
    const { body: held } = await getJson(`${url}/api/v1/replays/${slow.id}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { body: still } = await getJson(`${url}/api/v1/replays/${slow.id}`);
    assert.deepEqual(still.progress, held.progress);
    const refused = await postJson(`${url}/api/v1/replays/${slow.id}/pause`, {});
    assert.equal(refused.status, 422);

    const resumed = await postJson(`${url}/api/v1/replays/${slow.id}/resume`, {});
    assert.equal(resumed.body.status, 'running');
    const cancelled = await postJson(`${url}/api/v1/replays/${slow.id}/cancel`, {});
    assert.equal(cancelled.body.status, 'cancelled');
    const last = await finished(url, slow.id);
    assert.equal(last.status, 'cancelled');
    assert.deepEqual(
      last.actions.map((a) => `${a.action} by ${a.actor}`),
      ['created by anonymous', 'pause by anonymous', 'resume by anonymous', 'cancel by anonymous'],
    );
    assert.ok(last.progress.read < 40, 'cancelled before the end');
  });

  test('a range reaching before the log’s retention is refused, naming the bound', async (t) => {
    // The log's rows are the dedupe window's ids here: a short window lets the segment go.
    const platform = await start(t, { DEDUPE_WINDOW: '1s' });
    const { url } = platform;
    await ingest(url, [{ id: 'old', user_id: 'u', event_type: 'click' }]);
    await processed(platform, 1);
    await platform.broker.log.roll?.(0);
    await eventually(async () =>
      (await platform.broker.lag('herald-processors')).every((p) => p.lag === 0) ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await platform.broker.log.prune(new Date(Date.now() + 60_000));
    const { retainedSince } = await platform.broker.log.status();
    assert.ok(retainedSince !== null);
    const refused = await postJson(`${url}/api/v1/replays`, {
      target: 'pipeline',
      from: new Date(retainedSince.getTime() - 3_600_000).toISOString(),
    });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.type, 'urn:herald:problem:outside-retention');
    assert.equal(refused.body.retained_since, retainedSince.toISOString());
    const inside = await postJson(`${url}/api/v1/replays`, {
      target: 'pipeline',
      from: retainedSince.toISOString(),
    });
    assert.equal(inside.status, 201, JSON.stringify(inside.body));
  });
});

async function agentRuns(platform: RunningPlatform): Promise<number> {
  const [row] = await platform.db.query<{ n: number }>('SELECT count(*)::int AS n FROM agent_runs');
  return row?.n ?? 0;
}

const OTHER_BROKERS: Record<string, Record<string, string>> = {
  // Without LOG_RETENTION, Redis trims what every group acknowledged: nothing to replay.
  redis: {
    BROKER: 'redis',
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    LOG_RETENTION: '1d',
  },
  kafka: {
    BROKER: 'kafka',
    KAFKA_BROKERS: process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    LOG_RETENTION: '1d',
  },
};

for (const [broker, settings] of Object.entries(OTHER_BROKERS)) {
  test(`a pipeline replay over ${broker} reads its range from the broker's log, as its dry run counted`, async (t) => {
    const rules = versioned();
    const platform = await start(
      t,
      { ...settings, BROKER_NAMESPACE: `herald-replay-${Math.random().toString(36).slice(2, 10)}` },
      [...defaultStages, rules.stage],
    );
    const { url } = platform;
    const from = since();
    await ingest(url, [
      ...Array.from({ length: 5 }, (_, i) => ({
        id: `k${i}`,
        user_id: `u${i}`,
        event_type: 'click',
      })),
      { id: 'k-view', user_id: 'u1', event_type: 'view' },
    ]);
    await processed(platform, 6);
    rules.set(2);
    const selection = { target: 'pipeline', from, topics: ['analytics'], types: ['click'] };
    const dry = await finished(url, (await replay(url, { ...selection, dry_run: true })).id);
    assert.deepEqual(dry.progress.outcomes, { rederived: 5 }, JSON.stringify(dry));
    const real = await finished(url, (await replay(url, selection)).id);
    assert.deepEqual(real.progress, dry.progress);
    const [row] = await platform.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM processed_events WHERE enrichment->>'rules' = '2'`,
    );
    assert.equal(row?.n, 5);
  });
}
