/**
 * A partition held by an event that keeps failing transiently: reported stalled (metric,
 * readiness with the event at the head, summary, /api/v1/partitions) after STALL_AFTER_MS, and
 * moved on by an operator who dead-letters the head by hand; the dry run changes nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { defaultStages, type Stage } from '../../../src/app/pipeline.ts';
import { ErrorCodes, HeraldError } from '../../../src/errors.ts';
import { eventually } from '../../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../../helpers/platform.ts';

/** Fails the events whose id is in `failing` transiently, on every try, until taken out. */
function failingTransiently(failing: Set<string>): Stage {
  return {
    name: 'downstream',
    run({ message }) {
      if (failing.has(message.id)) {
        throw new HeraldError(ErrorCodes.TRANSIENT, `downstream unavailable for ${message.id}`, {
          retryable: true,
        });
      }
    },
  };
}

async function metricLine(url: string, pattern: RegExp): Promise<string | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').find((line) => pattern.test(line));
}

async function statusOf(url: string, id: string) {
  return (await getJson(`${url}/api/v1/events/${id}`)).body;
}

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const KAFKA_BROKERS = process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092';

// The operator's request is applied by the worker holding the event, the same way on every
// broker; the stall is seen through each broker's positions.
const SETUPS = [
  { name: 'postgres broker, embedded', database: 'embedded', broker: { BROKER: 'postgres' } },
  { name: 'postgres broker, server', database: 'postgres', broker: { BROKER: 'postgres' } },
  { name: 'redis broker', database: 'postgres', broker: { BROKER: 'redis', REDIS_URL } },
  {
    name: 'kafka broker',
    database: 'postgres',
    broker: { BROKER: 'kafka', KAFKA_BROKERS, KAFKA_SESSION_TIMEOUT_MS: '6000' },
  },
] as const;

for (const setup of SETUPS) {
  test(`a stalled partition is reported with the event at its head, and an operator moves it on [${setup.name}]`, async (t) => {
    const failing = new Set(['held']);
    const { url } = await startTestPlatform(
      t,
      {
        ...setup.broker,
        BROKER_NAMESPACE: `herald-stall-${randomBytes(4).toString('hex')}`,
        AGENTS_ENABLED: 'false',
        NOTIFICATIONS_ENABLED: 'false',
        QUEUE_PARTITIONS: '2',
        STALL_AFTER_MS: '300',
        // A budget (100 tries, up to 300 ms apart) the whole test fits in on a loaded machine.
        RETRY_BASE_MS: '100',
        RETRY_MAX_MS: '300',
        RETRY_MAX_ATTEMPTS: '100',
      },
      { stages: [...defaultStages, failingTransiently(failing)], database: setup.database },
    );
    await postJson(`${url}/api/v1/events/batch`, [
      { id: 'held', event_type: 'click', user_id: 'same-user' },
      { id: 'behind', event_type: 'click', user_id: 'same-user' },
    ]);

    // Readiness names the partition and the event holding it, and stays 200 (see readiness.ts).
    const ready = await eventually(async () => {
      const response = await getJson(`${url}/health/ready`);
      const stalled = response.body.stalled_partitions as { head_event_id?: string }[];
      return stalled?.some((s) => s.head_event_id === 'held') ? response : undefined;
    });
    assert.equal(ready.status, 200);
    const [stall] = ready.body.stalled_partitions as {
      group: string;
      topic?: string;
      partition: number;
      lag: number;
      stalled_for_s: number;
    }[];
    assert.equal(stall?.group, 'herald-processors');
    // The batch route's items without a type are analytics events.
    assert.equal(stall?.topic, setup.broker.BROKER === 'postgres' ? undefined : 'analytics');
    assert.equal(stall?.lag, 2);
    assert.ok((stall?.stalled_for_s ?? 0) >= 0.3);
    const partition = stall?.partition ?? -1;

    const gauge = new RegExp(
      `^herald_partition_stalled\\{group="herald-processors",partition="${partition}"\\} `,
    );
    assert.match((await metricLine(url, gauge)) ?? '', / 1$/);
    // A partition can be stalled before its worker's first try is recorded (a loaded machine).
    const held = await eventually(async () => {
      const record = await statusOf(url, 'held');
      return record.status === 'failed' ? record : undefined;
    });
    assert.equal((held.failure as { reason: string }).reason, 'transient', 'named for what it is');
    const summary = (await getJson(`${url}/metrics/summary`)).body;
    const row = (
      summary.partitions as { partition: number; stalled: boolean; head_event_id?: string }[]
    ).find((p) => p.partition === partition);
    assert.deepEqual([row?.stalled, row?.head_event_id], [true, 'held']);
    const listed = (await getJson(`${url}/api/v1/partitions`)).body.partitions as {
      partition: number;
      head_event_id?: string;
      stalled: boolean;
    }[];
    assert.deepEqual(
      listed.filter((p) => p.stalled).map((p) => [p.partition, p.head_event_id]),
      [[partition, 'held']],
    );

    // Guarded against races: the request names the event it expects at the head.
    const unblock = `${url}/api/v1/partitions/${partition}/dead-letter-head`;
    const wrong = await postJson(unblock, { event_id: 'behind' });
    assert.equal(wrong.status, 409);
    assert.match(
      String(wrong.body.detail),
      /the event at the head of partition \d+ is "held", not "behind"/,
    );
    assert.equal(
      (await postJson(`${url}/api/v1/partitions/1000/dead-letter-head`, { event_id: 'held' }))
        .status,
      404,
    );

    const dry = await postJson(unblock, { event_id: 'held', dry_run: true });
    assert.equal(dry.status, 200);
    assert.equal(dry.body.dry_run, true);
    assert.equal(dry.body.stalled, true);
    const attemptsAfterDryRun = (held.failure as { attempts: number }).attempts;
    await eventually(async () => {
      const now = await statusOf(url, 'held');
      return (now.failure as { attempts: number }).attempts > attemptsAfterDryRun + 2
        ? now
        : undefined;
    });
    assert.equal((await statusOf(url, 'held')).status, 'failed', 'the dry run changed nothing');
    assert.notEqual((await statusOf(url, 'behind')).status, 'processed');

    const done = await postJson(unblock, { event_id: 'held', note: 'downstream is gone for good' });
    assert.equal(done.status, 202);
    assert.match(String(done.body.requested_by), /^no API key \(/);
    const dead = await eventually(async () => {
      const now = await statusOf(url, 'held');
      return now.status === 'dead_lettered' ? now : undefined;
    });
    const failure = dead.failure as { reason: string; lastError: string };
    assert.equal(failure.reason, 'operator');
    assert.match(
      failure.lastError,
      /^dead-lettered by no API key \(.+\) at .+ \(downstream is gone for good\); last error: downstream unavailable for held$/,
    );
    await eventually(async () =>
      (await statusOf(url, 'behind')).status === 'processed' ? true : undefined,
    );
    await eventually(async () => {
      const body = (await getJson(`${url}/health/ready`)).body;
      return (body.stalled_partitions as unknown[]).length === 0 ? true : undefined;
    });
    assert.match((await metricLine(url, gauge)) ?? '', / 0$/);
    const letter = (await getJson(`${url}/api/v1/dead-letters/held`)).body;
    assert.equal(letter.reason, 'operator');
    assert.match(String(letter.operator), /^no API key/);

    // Replayable like any dead letter, once its cause is gone.
    failing.clear();
    assert.equal((await postJson(`${url}/api/v1/dead-letters/held/replay`, {})).status, 202);
    await eventually(async () =>
      (await statusOf(url, 'held')).status === 'processed' ? true : undefined,
    );
  });
}

test("unblocking a partition needs the admin scope, and is recorded as the key's name and id", async (t) => {
  const admin = `hk_adminadmin1_${'a'.repeat(43)}`;
  const { url } = await startTestPlatform(
    t,
    {
      AUTH: 'required',
      ADMIN_API_KEY: admin,
      QUEUE_PARTITIONS: '1',
      STALL_AFTER_MS: '300',
      RETRY_BASE_MS: '100',
      RETRY_MAX_MS: '300',
      RETRY_MAX_ATTEMPTS: '100',
    },
    { stages: [...defaultStages, failingTransiently(new Set(['held']))] },
  );
  const asAdmin = { authorization: `Bearer ${admin}` };
  const created = await postJson(
    `${url}/api/v1/keys`,
    { name: 'ops-bot', scopes: ['admin'] },
    asAdmin,
  );
  const reader = await postJson(
    `${url}/api/v1/keys`,
    { name: 'reader', scopes: ['analytics:read', 'metrics:read'] },
    asAdmin,
  );
  const asOps = { authorization: `Bearer ${created.body.key as string}` };
  const asReader = { authorization: `Bearer ${reader.body.key as string}` };
  await postJson(`${url}/events`, { id: 'held', event_type: 'click', user_id: 'k' }, asAdmin);
  await eventually(async () => {
    const response = await fetch(`${url}/api/v1/partitions`, { headers: asOps });
    const body = (await response.json()) as { partitions: { head_event_id?: string }[] };
    return body.partitions[0]?.head_event_id === 'held' ? true : undefined;
  });
  const unblock = `${url}/api/v1/partitions/0/dead-letter-head`;
  assert.equal((await postJson(unblock, { event_id: 'held' })).status, 401);
  assert.equal((await postJson(unblock, { event_id: 'held' }, asReader)).status, 403);
  const done = await postJson(unblock, { event_id: 'held' }, asOps);
  assert.equal(done.status, 202);
  assert.equal(done.body.requested_by, `ops-bot (${created.body.id as string})`);
  const letter = await eventually(async () => {
    const response = await fetch(`${url}/api/v1/dead-letters/held`, { headers: asOps });
    return response.status === 200
      ? ((await response.json()) as Record<string, unknown>)
      : undefined;
  });
  assert.equal(letter.operator, `ops-bot (${created.body.id as string})`);
});
