import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { ensureDashboardBuilt } from '../../dashboard/build.ts';
import { eventually } from '../helpers/eventually.ts';
import { getJson, postJson, startTestPlatform } from '../helpers/platform.ts';
import { CHROMIUM_ARGS, locateChromium } from './chromium.ts';

test('the replays view shows the log’s retention, dry-runs a range per type, starts a replay and follows it to its end', async (t) => {
  const executablePath = locateChromium();
  await ensureDashboardBuilt();
  const { url } = await startTestPlatform(
    t,
    { REPLAY_POLL_MS: '20', AGENTS_ENABLED: 'false', LOG_RETENTION: '7d' },
    { database: 'postgres' },
  );
  await postJson(`${url}/api/v1/events/batch`, [
    { id: 'c1', user_id: 'u1', event_type: 'click' },
    { id: 'c2', user_id: 'u2', event_type: 'click' },
    { id: 'v1', user_id: 'u1', event_type: 'view' },
  ]);
  await eventually(async () =>
    (await getJson(`${url}/metrics/summary`)).body.processed === 3 ? true : undefined,
  );

  const profile = await mkdtemp(join(tmpdir(), 'herald-chromium-'));
  t.after(() => rm(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1360, height: 900 },
  });
  t.after(() => browser.close());
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto(`${url}/dashboard`);
  await page.getByRole('link', { name: 'Replays' }).click();
  await page
    .getByTestId('log-status')
    .getByText(/postgres log · retention 7 d/)
    .waitFor();
  // An hour ago, in the browser's local time (what a datetime-local input holds).
  const hourAgo = await page.evaluate(() => {
    const d = new Date(Date.now() - 3_600_000);
    return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  });
  await page.getByTestId('replay-from').fill(hourAgo);
  await page.locator('input[name="topics"]').fill('analytics');
  await page.getByTestId('replay-dry-run').click();
  const detail = page.getByTestId('replay-detail');
  await detail.getByRole('heading', { name: /^Dry run / }).waitFor();
  await page.getByTestId('replay-outcomes').getByText('unchanged: 3').waitFor();
  const byType = page.getByTestId('replay-by-type');
  await byType.locator('tr', { hasText: 'click' }).getByText('2').waitFor();

  await page.getByTestId('replay-start').click();
  await detail.getByRole('heading', { name: /^Replay / }).waitFor();
  await page.locator('tr[data-id] .badge.completed').nth(1).waitFor();
  await detail.getByText(/created by anonymous/).waitFor();
  const { body } = await getJson(`${url}/api/v1/replays`);
  assert.deepEqual(
    (body.replays as { dry_run: boolean; status: string }[]).map((r) => [r.dry_run, r.status]),
    [
      [false, 'completed'],
      [true, 'completed'],
    ],
  );
  assert.deepEqual(pageErrors, []);
});
