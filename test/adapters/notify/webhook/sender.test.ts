import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { SignedWebhookSender } from '../../../../src/adapters/notify/webhook/sender.ts';
import { TargetGuard } from '../../../../src/adapters/notify/webhook/target-guard.ts';
import { generateWebhookSecret } from '../../../../src/domain/notifications.ts';
import { DeliveryError } from '../../../../src/ports/notifier.ts';
import { startFakeHttp, status } from '../../../helpers/fake-http.ts';

const sender = () => new SignedWebhookSender(new TargetGuard({ allow: ['127.0.0.1'] }));
const headersOf = (h: Record<string, string | string[] | undefined>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]));

test('a webhook arrives with Standard Webhooks headers that the standardwebhooks verifier accepts', async (t) => {
  const receiver = await startFakeHttp(t, status(200));
  const secret = generateWebhookSecret();
  const body = JSON.stringify({
    type: 'user.created',
    timestamp: '2026-01-01T00:00:00Z',
    data: { id: 'u1' },
  });
  const receipt = await sender().send(
    { url: `${receiver.url}/hook`, id: 'evt_123', body, secrets: [secret] },
    AbortSignal.timeout(5000),
  );
  assert.equal(receipt.statusCode, 200);
  const request = receiver.requests[0];
  assert.ok(request);
  assert.equal(request.headers['webhook-id'], 'evt_123');
  assert.equal(request.headers['content-type'], 'application/json');
  const age = Date.now() / 1000 - Number(request.headers['webhook-timestamp']);
  assert.ok(age >= 0 && age < 5, 'timestamp is the time of the attempt, in seconds');
  assert.deepEqual(
    new Webhook(secret).verify(request.text, headersOf(request.headers)),
    JSON.parse(body),
  );
  assert.throws(() =>
    new Webhook(generateWebhookSecret()).verify(request.text, headersOf(request.headers)),
  );
});

test('during a rotation both the new and the old secret verify the same message', async (t) => {
  const receiver = await startFakeHttp(t, status(204));
  const [current, previous] = [generateWebhookSecret(), generateWebhookSecret()];
  await sender().send(
    { url: `${receiver.url}/hook`, id: 'evt_rot', body: '{"a":1}', secrets: [current, previous] },
    AbortSignal.timeout(5000),
  );
  const request = receiver.requests[0];
  assert.ok(request);
  assert.equal(String(request.headers['webhook-signature']).split(' ').length, 2);
  assert.deepEqual(new Webhook(current).verify(request.text, headersOf(request.headers)), { a: 1 });
  assert.deepEqual(new Webhook(previous).verify(request.text, headersOf(request.headers)), {
    a: 1,
  });
});

test('webhook failures are classified: 5xx and 429 retryable (Retry-After kept), 4xx permanent, timeouts retryable', async (t) => {
  const receiver = await startFakeHttp(t);
  const message = {
    url: `${receiver.url}/hook`,
    id: 'e',
    body: '{}',
    secrets: [generateWebhookSecret()],
  };
  receiver.script(status(503), status(429, { 'retry-after': '7' }), status(400), { kind: 'hang' });
  const outcomes: DeliveryError[] = [];
  for (let i = 0; i < 4; i++) {
    try {
      await sender().send(message, AbortSignal.timeout(300));
      assert.fail('should fail');
    } catch (error) {
      assert.ok(error instanceof DeliveryError, String(error));
      outcomes.push(error);
    }
  }
  assert.deepEqual(
    outcomes.map((e) => [e.retryable, e.statusCode, e.retryAfterMs]),
    [
      [true, 503, undefined],
      [true, 429, 7000],
      [false, 400, undefined],
      [true, undefined, undefined],
    ],
  );
  assert.match(outcomes[3]?.message ?? '', /timed out/);
});
