import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseAddress,
  SendGridEmailSender,
} from '../../../../src/adapters/notify/sendgrid/sender.ts';
import { DeliveryError, type EmailMessage } from '../../../../src/ports/notifier.ts';
import { startFakeHttp, status } from '../../../helpers/fake-http.ts';

const message: EmailMessage = {
  to: 'ada@example.com',
  subject: 'Welcome',
  text: 'Hello Ada',
  html: '<p>Hello Ada</p>',
  messageId: '<d-1@herald.local>',
  idempotencyKey: 'd-1',
};

async function fail(send: Promise<unknown>): Promise<DeliveryError> {
  try {
    await send;
  } catch (error) {
    assert.ok(error instanceof DeliveryError, String(error));
    return error;
  }
  assert.fail('the send should have failed');
}

test('SendGrid: POST /v3/mail/send with the key, sender, content and stable Message-ID; 202 yields the message id', async (t) => {
  const fake = await startFakeHttp(t, status(202, { 'x-message-id': 'sg-abc' }));
  const sender = new SendGridEmailSender({
    baseUrl: fake.url,
    apiKey: 'SG.test-key',
    from: 'Herald <no-reply@herald.local>',
  });
  const receipt = await sender.send(message, AbortSignal.timeout(5000));
  assert.deepEqual(receipt, { provider: 'sendgrid', statusCode: 202, providerMessageId: 'sg-abc' });
  const request = fake.requests[0];
  assert.ok(request);
  assert.equal(request.method, 'POST');
  assert.equal(request.path, '/v3/mail/send');
  assert.equal(request.headers.authorization, 'Bearer SG.test-key');
  const body = JSON.parse(request.text);
  assert.deepEqual(body.personalizations, [{ to: [{ email: 'ada@example.com' }] }]);
  assert.deepEqual(body.from, { email: 'no-reply@herald.local', name: 'Herald' });
  assert.equal(body.subject, 'Welcome');
  assert.deepEqual(body.content, [
    { type: 'text/plain', value: 'Hello Ada' },
    { type: 'text/html', value: '<p>Hello Ada</p>' },
  ]);
  assert.equal(body.headers['Message-ID'], '<d-1@herald.local>');
  assert.equal(body.custom_args.herald_delivery_id, 'd-1');
});

test('SendGrid failures: 5xx retryable, 429 retryable with Retry-After, 4xx permanent, a hung request times out retryable', async (t) => {
  const fake = await startFakeHttp(t);
  const sender = new SendGridEmailSender({ baseUrl: fake.url, apiKey: 'k', from: 'a@b.c' });
  fake.script(
    status(500, {}, '{"errors":[{"message":"internal"}]}'),
    status(429, { 'retry-after': '30' }),
    status(401, {}, '{"errors":[{"message":"bad key"}]}'),
    { kind: 'hang' },
  );
  const e500 = await fail(sender.send(message, AbortSignal.timeout(5000)));
  assert.deepEqual([e500.retryable, e500.statusCode], [true, 500]);
  const e429 = await fail(sender.send(message, AbortSignal.timeout(5000)));
  assert.deepEqual([e429.retryable, e429.statusCode, e429.retryAfterMs], [true, 429, 30_000]);
  const e401 = await fail(sender.send(message, AbortSignal.timeout(5000)));
  assert.deepEqual([e401.retryable, e401.statusCode], [false, 401]);
  assert.match(e401.message, /bad key/);
  const started = Date.now();
  const timeout = await fail(sender.send(message, AbortSignal.timeout(200)));
  assert.equal(timeout.retryable, true);
  assert.match(timeout.message, /timed out/);
  assert.ok(Date.now() - started < 2000, 'the deadline ends the attempt');
});

test('a connection refused is a retryable failure', async (t) => {
  const fake = await startFakeHttp(t);
  await fake.close();
  const sender = new SendGridEmailSender({ baseUrl: fake.url, apiKey: 'k', from: 'a@b.c' });
  const error = await fail(sender.send(message, AbortSignal.timeout(5000)));
  assert.equal(error.retryable, true);
});

test('parseAddress reads "Name <address>" and bare addresses', () => {
  assert.deepEqual(parseAddress('Herald <no-reply@x.io>'), {
    email: 'no-reply@x.io',
    name: 'Herald',
  });
  assert.deepEqual(parseAddress('"Ops Team" <ops@x.io>'), { email: 'ops@x.io', name: 'Ops Team' });
  assert.deepEqual(parseAddress('ops@x.io'), { email: 'ops@x.io' });
});
