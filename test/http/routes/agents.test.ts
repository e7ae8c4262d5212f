import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getJson, startTestPlatform } from '../../helpers/platform.ts';

test('an unknown molecule is a 404 problem document', async (t) => {
  const { url } = await startTestPlatform(t, { AGENTS_ENABLED: 'false' });
  const response = await fetch(`${url}/api/v1/molecules/mol-nobody-sent`);
  assert.equal(response.status, 404);
  assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const body = (await response.json()) as Record<string, unknown>;
  assert.equal(body.type, 'urn:herald:problem:not-found');
  assert.match(String(body.detail), /mol-nobody-sent/);
});

test('agent run filters are validated: a bad status or limit is a 422, never a 500', async (t) => {
  const { url } = await startTestPlatform(t, { AGENTS_ENABLED: 'false' });
  for (const query of ['status=bogus', 'limit=0', 'limit=abc', 'unknown=1']) {
    const { status, body } = await getJson(`${url}/api/v1/agents/runs?${query}`);
    assert.equal(status, 422, query);
    assert.equal(body.type, 'urn:herald:problem:validation', query);
  }
  const ok = await getJson(`${url}/api/v1/agents/runs?status=fallback&agent=offline&limit=5`);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body.runs, []);
});
