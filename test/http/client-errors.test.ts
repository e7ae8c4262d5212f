import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestPlatform } from '../helpers/platform.ts';

test('refusals before routing are problem documents too: 431 headers too large, 400 bad URL, 414 long parameter', async (t) => {
  const { url } = await startTestPlatform(t);
  const huge = await fetch(`${url}/events`, { headers: { 'x-padding': 'x'.repeat(20_000) } });
  assert.equal(huge.status, 431);
  assert.match(huge.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(((await huge.json()) as { status: number }).status, 431);

  const badUrl = await fetch(`${url}/api/v1/events/%E0%A4%A`);
  assert.equal(badUrl.status, 400);
  assert.match(badUrl.headers.get('content-type') ?? '', /^application\/problem\+json/);

  const long = await fetch(`${url}/api/v1/events/${'x'.repeat(1000)}`);
  assert.equal(long.status, 414);
  assert.match(long.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal((await fetch(`${url}/health`)).status, 200);
});
