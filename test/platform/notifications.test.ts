import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '../../src/config.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { notifiersFrom } from '../../src/platform/notifications.ts';
import { eventually } from '../helpers/eventually.ts';
import { startFakeHttp, status } from '../helpers/fake-http.ts';
import { postJson, startTestPlatform } from '../helpers/platform.ts';

const logger = createLogger('silent');
const configWith = (env: Record<string, string>) => loadConfig({}, env);

test('the email transport follows the configuration: SMTP when SMTP_URL is set, SendGrid with a key, else the log', () => {
  assert.equal(notifiersFrom(configWith({}), logger).email.name, 'log');
  assert.equal(
    notifiersFrom(configWith({ SMTP_URL: 'smtp://127.0.0.1:2525' }), logger).email.name,
    'smtp',
  );
  assert.equal(
    notifiersFrom(configWith({ SENDGRID_API_KEY: 'SG.x' }), logger).email.name,
    'sendgrid',
  );
  assert.equal(
    notifiersFrom(configWith({ SMTP_URL: 'smtp://127.0.0.1:2525', EMAIL_TRANSPORT: 'log' }), logger)
      .email.name,
    'log',
  );
  const none = notifiersFrom(configWith({}), logger);
  assert.equal(none.sms, undefined);
  assert.equal(none.push, undefined);
  const all = notifiersFrom(
    configWith({
      TWILIO_ACCOUNT_SID: 'AC1',
      TWILIO_AUTH_TOKEN: 't',
      TWILIO_FROM: '+1555',
      VAPID_PUBLIC_KEY: 'BPub',
      VAPID_PRIVATE_KEY: 'priv',
    }),
    logger,
  );
  assert.equal(all.sms?.name, 'twilio');
  assert.equal(all.push?.name, 'webpush');
});

test('an incomplete provider configuration fails at start naming the missing setting', () => {
  const fails = (env: Record<string, string>, setting: string) =>
    assert.throws(
      () => notifiersFrom(configWith(env), logger),
      (e: unknown) =>
        e instanceof HeraldError &&
        e.code === ErrorCodes.CONFIG_INVALID &&
        e.message.startsWith(setting),
      setting,
    );
  fails({ EMAIL_TRANSPORT: 'sendgrid' }, 'SENDGRID_API_KEY');
  fails({ EMAIL_TRANSPORT: 'smtp' }, 'SMTP_URL');
  fails({ TWILIO_ACCOUNT_SID: 'AC1', TWILIO_FROM: '+1' }, 'TWILIO_AUTH_TOKEN');
  fails({ VAPID_PUBLIC_KEY: 'BPub' }, 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY');
  fails({ WEBHOOK_ALLOW_PRIVATE_TARGETS: '127.0.0.1,not-an-ip' }, 'WEBHOOK_ALLOW_PRIVATE_TARGETS');
});

test('a user created over HTTP reaches a subscribed webhook endpoint, signed so that the standardwebhooks verifier accepts it', async (t) => {
  const receiver = await startFakeHttp(t, status(204));
  const { url } = await startTestPlatform(
    t,
    {
      WEBHOOK_ALLOW_PRIVATE_TARGETS: '127.0.0.1',
      NOTIFY_POLL_MS: '20',
      OUTBOX_POLL_MS: '20',
      AGENTS_ENABLED: 'false',
    },
    { database: 'postgres' },
  );
  const endpoint = await postJson(`${url}/api/v1/notifications/webhooks`, {
    url: `${receiver.url}/herald`,
    event_types: ['user.created'],
  });
  assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
  const created = await postJson(`${url}/users/`, {
    username: 'grace',
    email: 'grace@example.com',
    password: 'SecurePass123',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const request = await eventually(() => receiver.requests[0], { message: 'the webhook' });
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([k, v]) => [k, String(v)]),
  );
  const payload = new Webhook(endpoint.body.secret as string).verify(request.text, headers) as {
    type: string;
    data: { user: { id: string; email: string } };
  };
  assert.equal(payload.type, 'user.created');
  assert.equal(payload.data.user.id, created.body.id);
  assert.equal(payload.data.user.email, 'grace@example.com');
  assert.ok(
    !request.text.includes('SecurePass123') && !request.text.includes('scrypt'),
    'no secrets',
  );
  const log = await eventually(async () => {
    const response = await fetch(`${url}/api/v1/notifications?channel=webhook`);
    const body = (await response.json()) as { deliveries: Array<{ status: string }> };
    return body.deliveries[0]?.status === 'sent' ? body.deliveries : undefined;
  });
  assert.equal(log.length, 1);
  // The welcome email went out through the log transport beside it.
  const metrics = await eventually(async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return /herald_notifications_total\{channel="email",outcome="sent"\} 1/.test(text)
      ? text
      : undefined;
  });
  assert.match(metrics, /herald_notifications_total\{channel="webhook",outcome="sent"\} 1/);
});
