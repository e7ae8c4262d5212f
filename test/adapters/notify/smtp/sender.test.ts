import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SmtpEmailSender } from '../../../../src/adapters/notify/smtp/sender.ts';
import { DeliveryError, type EmailMessage } from '../../../../src/ports/notifier.ts';
import { startSmtpServer } from '../../../helpers/smtp-server.ts';

const message: EmailMessage = {
  to: 'grace@example.com',
  subject: 'Welcome to Herald',
  text: 'Hello Grace',
  html: '<p>Hello Grace</p>',
  messageId: '<delivery-42@herald.local>',
  idempotencyKey: 'delivery-42',
};

test('SMTP: the message reaches a real SMTP server with the delivery Message-ID and both parts', async (t) => {
  const smtp = await startSmtpServer(t);
  const sender = new SmtpEmailSender({
    url: smtp.url,
    from: 'Herald <no-reply@herald.local>',
    timeoutMs: 5000,
  });
  const receipt = await sender.send(message, AbortSignal.timeout(5000));
  assert.equal(receipt.provider, 'smtp');
  assert.equal(receipt.statusCode, 250);
  assert.equal(smtp.accepted.length, 1);
  const mail = smtp.accepted[0];
  assert.ok(mail);
  assert.deepEqual(mail.to, ['grace@example.com']);
  assert.equal(mail.from, 'no-reply@herald.local');
  assert.equal(mail.messageId, '<delivery-42@herald.local>');
  assert.equal(mail.subject, 'Welcome to Herald');
  assert.match(mail.raw, /Hello Grace/);
  assert.match(mail.raw, /text\/html/);
  assert.match(mail.raw, /X-Herald-Delivery-Id: delivery-42/i);
});

test('SMTP replies are classified the SMTP way: 4xx retryable, 5xx permanent', async (t) => {
  const smtp = await startSmtpServer(t);
  const sender = new SmtpEmailSender({
    url: smtp.url,
    from: 'no-reply@herald.local',
    timeoutMs: 5000,
  });
  smtp.script(
    { kind: 'refuse', code: 451, message: 'try again later' },
    { kind: 'refuse', code: 550, message: 'mailbox unavailable' },
  );
  await assert.rejects(
    sender.send(message, AbortSignal.timeout(5000)),
    (e: unknown) => e instanceof DeliveryError && e.retryable && e.statusCode === 451,
  );
  await assert.rejects(
    sender.send(message, AbortSignal.timeout(5000)),
    (e: unknown) => e instanceof DeliveryError && !e.retryable && e.statusCode === 550,
  );
  assert.equal(smtp.accepted.length, 0);
});

test('a server that stalls after DATA is cut off at the attempt deadline (retryable), and nothing is accepted', async (t) => {
  const smtp = await startSmtpServer(t);
  const sender = new SmtpEmailSender({
    url: smtp.url,
    from: 'no-reply@herald.local',
    timeoutMs: 5000,
  });
  smtp.script({ kind: 'hold' });
  const started = Date.now();
  await assert.rejects(
    sender.send(message, AbortSignal.timeout(300)),
    (e: unknown) => e instanceof DeliveryError && e.retryable && /timed out/.test(e.message),
  );
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  assert.equal(smtp.arrived, 1);
  assert.equal(smtp.accepted.length, 0);
});

test('an SMTP server that is down is a retryable failure', async (t) => {
  const smtp = await startSmtpServer(t);
  await smtp.close();
  const sender = new SmtpEmailSender({
    url: smtp.url,
    from: 'no-reply@herald.local',
    timeoutMs: 2000,
  });
  await assert.rejects(
    sender.send(message, AbortSignal.timeout(3000)),
    (e: unknown) => e instanceof DeliveryError && e.retryable,
  );
});
