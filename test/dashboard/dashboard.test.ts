import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureDashboardBuilt } from '../../dashboard/build.ts';
import { defaultStages, type Stage } from '../../src/app/pipeline.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import { herald } from '../cli/commands/run-cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../helpers/platform.ts';
import { launchChromium } from './chromium.ts';

const SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));

/** Refuses (dead-letters) the events whose id is in `refused`, until they are taken out. */
function refusing(refused: Set<string>): Stage {
  return {
    name: 'refusing',
    run({ message }) {
      if (refused.has(message.id)) {
        throw new HeraldError(ErrorCodes.VALIDATION, `${message.id}: refused by the test`);
      }
    },
  };
}

test('the dashboard shows live numbers moving, replays a dead letter that is then processed, and lists agent runs', async (t) => {
  await ensureDashboardBuilt();
  const refused = new Set(['order-42']);
  const { url } = await startTestPlatform(
    t,
    { QUEUE_PARTITIONS: '4' },
    { stages: [...defaultStages, refusing(refused)] },
  );

  const shots = await mkdtemp(join(tmpdir(), 'herald-shots-'));
  t.after(() => rm(shots, { recursive: true, force: true }));
  const browser = await launchChromium(t);
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  // Overview: the numbers start at zero and move once events are produced.
  await page.goto(`${url}/dashboard`);
  const processed = page.getByTestId('stat-processed');
  await processed.filter({ hasText: /^0$/ }).waitFor();
  const produce = herald(['produce', '--count', '60', '--rate', '40', '--url', url], {}, 90_000);
  await page
    .getByTestId('stat-accepted')
    .filter({ hasText: /^[1-9]/ })
    .waitFor({ timeout: 30_000 });
  assert.equal((await produce).code, 0);
  await processed.filter({ hasText: /^60$/ }).waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('#chart-throughput canvas').count(), 1, 'throughput chart drawn');
  assert.match((await page.getByTestId('stat-throughput').textContent()) ?? '', /^\d/);
  await page.screenshot({ path: join(shots, 'overview.png'), fullPage: true });
  if (process.env.HERALD_UPDATE_SCREENSHOT !== undefined) {
    // For the README: a longer run with a few impossible chemicals, so every chart has a story.
    await herald(
      ['produce', '--count', '500', '--rate', '60', '--invalid-ratio', '0.04', '--url', url],
      {},
      90_000,
    );
    await page.waitForTimeout(1500);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  }
  assert.ok((await stat(join(shots, 'overview.png'))).size > 10_000, 'a screenshot was taken');

  // A dead letter: inspect it in the UI, replay it there, and see it processed.
  await postJson(`${url}/events`, { id: 'order-42', event_type: 'purchase', user_id: 'ann' });
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/order-42`);
    return body.status === 'dead_lettered' ? true : undefined;
  });
  await page.getByRole('link', { name: 'Dead letters' }).click();
  const row = page.locator('tr[data-id="order-42"]');
  await row.waitFor();
  await row.click();
  await page.getByTestId('dlq-detail').getByText('order-42: refused by the test').waitFor();
  refused.clear();
  await page.getByTestId('replay-one').click();
  await page.getByTestId('dlq-message').filter({ hasText: 'Replayed 1 of 1' }).waitFor();
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/order-42`);
    return body.status === 'processed' ? true : undefined;
  });
  await row.waitFor({ state: 'detached' });

  // The event view shows it processed.
  await page.goto(`${url}/dashboard/#/events?id=order-42`);
  await page.getByTestId('event-status').filter({ hasText: 'processed' }).waitFor();

  // Agent runs: the chemical events produced above were described by the (offline) agent.
  await page.getByRole('link', { name: 'Agent runs' }).click();
  const runs = page.getByTestId('agent-runs').locator('tbody tr');
  await runs.first().waitFor();
  const { body: listed } = await getJson(`${url}/api/v1/agents/runs?limit=200`);
  const expected = (listed.runs as unknown[]).length;
  assert.ok(expected > 0, 'the agents ran on the chemical events');
  await page
    .getByTestId('agent-runs-count')
    .filter({ hasText: String(expected) })
    .waitFor();
  await runs.first().click();
  await page
    .getByTestId('agent-run-detail')
    .getByRole('heading', { name: /^Run \d+/ })
    .waitFor();
  await page.getByTestId('agent-run-detail').getByRole('link').click();
  await page.getByTestId('event-status').filter({ hasText: 'processed' }).waitFor();
  assert.deepEqual(pageErrors, [], 'no errors in the page');
});

test('/dashboard redirects to the app, which is served with its assets', async (t) => {
  await ensureDashboardBuilt();
  const { url } = await startTestPlatform(t);
  const redirect = await fetch(`${url}/dashboard`, { redirect: 'manual' });
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get('location'), '/dashboard/');
  const page = await fetch(`${url}/dashboard/`);
  assert.equal(page.status, 200);
  const html = await page.text();
  const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, 'the page loads a built script');
  const asset = await fetch(url + script);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
});

test('a stalled partition shows in red and is unblocked from the dashboard; the failure rate names its window and counts retrying events', async (t) => {
  await ensureDashboardBuilt();
  const { url } = await startTestPlatform(
    t,
    {
      QUEUE_PARTITIONS: '2',
      STALL_AFTER_MS: '300',
      RETRY_BASE_MS: '100',
      RETRY_MAX_MS: '300',
      RETRY_MAX_ATTEMPTS: '100',
    },
    {
      stages: [
        ...defaultStages,
        {
          name: 'downstream',
          run({ message }) {
            if (message.id === 'wedged') {
              throw new HeraldError(ErrorCodes.TRANSIENT, 'downstream unavailable', {
                retryable: true,
              });
            }
          },
        },
      ],
    },
  );
  await postJson(`${url}/events`, { id: 'wedged', event_type: 'purchase', user_id: 'ann' });

  const browser = await launchChromium(t);
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(`${url}/dashboard`);

  const stalled = page.locator('[data-testid^="partition-"][data-stalled="true"]');
  await stalled.waitFor({ timeout: 30_000 });
  assert.equal(await stalled.count(), 1);
  // Runs in the page, where getComputedStyle is a global (not in Node's types).
  const color = await stalled.evaluate(
    (el) =>
      (
        globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }
      ).getComputedStyle(el).color,
  );
  assert.equal(color, 'rgb(220, 38, 38)', 'the stalled partition is red');
  assert.match((await stalled.getAttribute('title')) ?? '', /stalled for .* held by wedged/);

  // One event, retrying for ever: a failure, not 0.0 %.
  const failureTile = page.getByTestId('stat-failure_rate');
  await failureTile.filter({ hasText: '100.0 %' }).waitFor();
  const label = await page.locator('.tile', { has: failureTile }).locator('.label').textContent();
  assert.match(label ?? '', /last 60 s/i);

  await stalled.locator('button', { hasText: 'Dead-letter head' }).click();
  await page
    .getByTestId('unblock-message')
    .filter({ hasText: 'Asked to dead-letter wedged' })
    .waitFor();
  await eventually(async () => {
    const { body } = await getJson(`${url}/api/v1/events/wedged`);
    return body.status === 'dead_lettered' ? body : undefined;
  });
  await stalled.waitFor({ state: 'detached', timeout: 30_000 });
  assert.equal((await getJson(`${url}/api/v1/dead-letters/wedged`)).body.reason, 'operator');
  assert.deepEqual(pageErrors, [], 'no errors in the page');
});
