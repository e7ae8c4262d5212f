import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  escapeHtml,
  generateWebhookSecret,
  isWebhookSecret,
  retryDelay,
  signWebhook,
  subscribes,
  USER_TEMPLATES,
  userFacts,
  webhookHeaders,
} from '../../src/domain/notifications.ts';

test('signWebhook matches the Standard Webhooks reference vector', () => {
  assert.equal(
    signWebhook(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    ),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  );
});

test('headers signed with two secrets verify under either secret with the standardwebhooks package', () => {
  const current = generateWebhookSecret();
  const previous = generateWebhookSecret();
  const body = JSON.stringify({ type: 'user.created', data: { id: 'u1' } });
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = webhookHeaders([current, previous], 'evt_1', timestamp, body);
  assert.deepEqual(new Webhook(current).verify(body, headers), JSON.parse(body));
  assert.deepEqual(new Webhook(previous).verify(body, headers), JSON.parse(body));
  assert.throws(() => new Webhook(generateWebhookSecret()).verify(body, headers));
  assert.throws(() => new Webhook(current).verify(`${body} `, headers), 'a changed body fails');
});

test('generated secrets are whsec_ base64 of 32 bytes; malformed secrets are recognised', () => {
  const secret = generateWebhookSecret();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(isWebhookSecret(secret), true);
  assert.equal(isWebhookSecret('whsec_short'), false);
  assert.equal(isWebhookSecret('sk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), false);
  assert.equal(isWebhookSecret('whsec_not base64 at all!!!!!!!!!!!!!!!'), false);
});

test('subscriptions match exact types, prefix wildcards and *', () => {
  assert.equal(subscribes(['user.created'], 'user.created'), true);
  assert.equal(subscribes(['user.created'], 'user.deleted'), false);
  assert.equal(subscribes(['user.*'], 'user.deleted'), true);
  assert.equal(subscribes(['user.*'], 'username.changed'), false);
  assert.equal(subscribes(['*'], 'page_view'), true);
});

test('retryDelay grows exponentially, is capped, jittered within [ceiling/2, ceiling], and honours Retry-After', () => {
  const schedule = { baseMs: 1000, maxMs: 60_000 };
  assert.equal(
    retryDelay(1, schedule, undefined, () => 0),
    500,
  );
  assert.equal(
    retryDelay(1, schedule, undefined, () => 0.999_999),
    999,
  );
  assert.equal(
    retryDelay(4, schedule, undefined, () => 0),
    4000,
  );
  assert.equal(
    retryDelay(20, schedule, undefined, () => 0),
    30_000,
    'capped at maxMs',
  );
  assert.equal(
    retryDelay(1, schedule, 45_000, () => 0),
    45_000,
    'Retry-After wins when longer',
  );
  assert.equal(
    retryDelay(4, schedule, 10, () => 0),
    4000,
    'a short Retry-After does not shorten',
  );
  // The default schedule (30 s doubling to 4 h, 12 attempts) spans hours even at its minimum.
  let total = 0;
  for (let attempt = 1; attempt < 12; attempt++) {
    total += retryDelay(attempt, { baseMs: 30_000, maxMs: 14_400_000 }, undefined, () => 0);
  }
  assert.ok(total > 5 * 3_600_000, `${total} ms`);
});

test('user templates escape names in HTML and read the user event view', () => {
  const user = userFacts({
    id: 'u1',
    username: 'mallory',
    email: 'm@example.com',
    full_name: '<script>alert(1)</script>',
    phone: null,
  });
  assert.ok(user);
  const mail = USER_TEMPLATES['user.created']?.email?.(user);
  assert.ok(mail);
  assert.equal(mail.html.includes('<script>'), false);
  assert.ok(mail.html.includes(escapeHtml('<script>alert(1)</script>')));
  assert.ok(mail.text.includes('mallory'));
  assert.equal(userFacts({ id: 'u1' }), undefined, 'no email: not a user event');
  assert.deepEqual(
    userFacts({
      event_id: 'e1',
      type: 'user.created',
      occurred_at: '2026-01-01T00:00:00Z',
      user: {
        id: 'u2',
        username: 'ada',
        email: 'ada@example.com',
        full_name: 'Ada',
        phone: '+1555',
      },
    }),
    { id: 'u2', username: 'ada', email: 'ada@example.com', fullName: 'Ada', phone: '+1555' },
    'the user service envelope',
  );
});
