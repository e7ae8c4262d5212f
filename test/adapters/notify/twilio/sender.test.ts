import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TwilioSmsSender } from '../../../../src/adapters/notify/twilio/sender.ts';
import { DeliveryError } from '../../../../src/ports/notifier.ts';
import { startFakeHttp, status } from '../../../helpers/fake-http.ts';

const sms = { to: '+15551230000', body: 'Welcome to Herald', idempotencyKey: 'd-1' };

test('Twilio: form-encoded POST to the account Messages.json with Basic auth; 201 yields the message sid', async (t) => {
  const fake = await startFakeHttp(
    t,
    status(201, { 'content-type': 'application/json' }, '{"sid":"SM123","status":"queued"}'),
  );
  const sender = new TwilioSmsSender({
    baseUrl: fake.url,
    accountSid: 'AC00000000000000000000000000000001',
    authToken: 'token',
    from: '+15550001111',
  });
  const receipt = await sender.send(sms, AbortSignal.timeout(5000));
  assert.deepEqual(receipt, { provider: 'twilio', statusCode: 201, providerMessageId: 'SM123' });
  const request = fake.requests[0];
  assert.ok(request);
  assert.equal(
    request.path,
    '/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json',
  );
  assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(
    request.headers.authorization,
    `Basic ${Buffer.from('AC00000000000000000000000000000001:token').toString('base64')}`,
  );
  const form = new URLSearchParams(request.text);
  assert.deepEqual(
    [form.get('To'), form.get('From'), form.get('Body')],
    ['+15551230000', '+15550001111', 'Welcome to Herald'],
  );
});

test('Twilio failures: 503 and 429 (Retry-After) retryable, 400 (invalid number) permanent, timeout retryable', async (t) => {
  const fake = await startFakeHttp(t);
  const sender = new TwilioSmsSender({
    baseUrl: fake.url,
    accountSid: 'AC1',
    authToken: 't',
    from: '+1',
  });
  fake.script(
    status(503),
    status(429, { 'retry-after': '2' }, '{"code":20429,"message":"Too Many Requests"}'),
    status(400, {}, '{"code":21211,"message":"Invalid To Phone Number"}'),
    { kind: 'hang' },
  );
  const results: Array<[boolean, number | undefined, number | undefined]> = [];
  for (const deadline of [5000, 5000, 5000, 200]) {
    await assert.rejects(sender.send(sms, AbortSignal.timeout(deadline)), (error: unknown) => {
      assert.ok(error instanceof DeliveryError);
      results.push([error.retryable, error.statusCode, error.retryAfterMs]);
      return true;
    });
  }
  assert.deepEqual(results, [
    [true, 503, undefined],
    [true, 429, 2000],
    [false, 400, undefined],
    [true, undefined, undefined],
  ]);
});
