import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureDashboardBuilt } from '../../dashboard/build.ts';
import { getJson, startTestPlatform } from '../helpers/platform.ts';
import { launchChromium } from './chromium.ts';

async function put(url: string, type: string, schema: unknown) {
  const response = await fetch(`${url}/api/v1/schemas/${type}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ schema }),
  });
  assert.ok(response.ok, await response.text());
}

test('the schemas view lists the types, shows versions with their diff, and registers a version or shows why not', async (t) => {
  await ensureDashboardBuilt();
  const { url } = await startTestPlatform(t, {}, { database: 'postgres' });
  const v1 = {
    type: 'object',
    additionalProperties: false,
    properties: { amount: { type: 'number' } },
  };
  await put(url, 'purchase', v1);
  await put(url, 'purchase', {
    ...v1,
    properties: { ...v1.properties, coupon: { type: 'string' } },
  });
  await put(url, 'signup', { type: 'object' });

  const browser = await launchChromium(t);
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto(`${url}/dashboard`);
  await page.getByRole('link', { name: 'Schemas' }).click();
  const row = page.locator('tr[data-type="purchase"]');
  await row.filter({ hasText: 'v2' }).waitFor();
  assert.equal(await page.locator('tr[data-type]').count(), 2);
  await row.click();
  const detail = page.getByTestId('schema-detail');
  await detail.getByRole('heading', { name: 'purchase' }).waitFor();
  await page.getByTestId('schema-diff').getByText('added /properties/coupon').waitFor();
  await detail.getByText('backward: compatible · forward: breaks').waitFor();
  await page
    .getByTestId('schema-diff-breaks')
    .getByText(/coupon: v1 does not allow "coupon"/)
    .waitFor();
  await page.getByTestId('schema-versions').getByRole('button', { name: 'v1' }).click();
  await detail.getByText('v1 by anonymous').waitFor();

  // A breaking version typed into the editor is refused, with the reason.
  const editor = page.getByTestId('schema-editor');
  await editor.fill(JSON.stringify({ ...v1, required: ['amount'] }));
  await page.getByTestId('schema-register').click();
  await page
    .getByTestId('schema-put-result')
    .getByText('[required] v3 requires "amount", which v2 does not')
    .waitFor();
  assert.equal((await getJson(`${url}/api/v1/schemas/purchase`)).body.version, 2, 'nothing stored');

  // A compatible one is registered and shown as the latest.
  await editor.fill(
    JSON.stringify({ ...v1, properties: { ...v1.properties, coupon: {}, note: {} } }),
  );
  await page.getByTestId('schema-register').click();
  // The detail is rebuilt for the new latest version, and what the registration said stays.
  await page.getByTestId('schema-versions').getByRole('button', { name: 'v3' }).waitFor();
  await row.filter({ hasText: 'v3' }).waitFor();
  await page.getByTestId('schema-put-result').getByText('purchase: version (v3)').waitFor();
  assert.equal((await getJson(`${url}/api/v1/schemas/purchase`)).body.version, 3);
  assert.deepEqual(pageErrors, []);
});
