import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../helpers/databases.ts';
import { eventually } from '../helpers/eventually.ts';
import { runHerald } from '../helpers/herald-process.ts';
import { getJson, postJson } from '../helpers/platform.ts';
import { startSmtpServer } from '../helpers/smtp-server.ts';

test('a user created over HTTP gets exactly one welcome email, even when the notification worker is SIGKILLed mid-send and restarted', async (t) => {
  const smtp = await startSmtpServer(t);
  const schema = uniqueSchema('herald_e2e');
  t.after(() => dropSchema(schema));
  const env = {
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    WORKER_POLL_MS: '20',
    OUTBOX_POLL_MS: '20',
    SMTP_URL: smtp.url,
    EMAIL_FROM: 'Herald <no-reply@herald.test>',
    NOTIFY_POLL_MS: '50',
    // The kill comes long before the attempt's deadline; the restarted worker takes the
    // delivery over once the dead one's lease has expired.
    NOTIFY_TIMEOUT_MS: '3000',
    NOTIFY_LEASE_MS: '4000',
    AGENTS_ENABLED: 'false',
  };
  const api = runHerald(t, ['api'], env);
  const url = await api.url;
  const started = (p: ReturnType<typeof runHerald>) =>
    eventually(() => (p.logs.some((l) => l.msg === 'notifications started') ? true : undefined), {
      timeoutMs: 20_000,
      message: 'notifications started',
    });
  const victim = runHerald(t, ['worker'], env);
  await started(victim);

  // The SMTP server receives the whole message and then stalls before its 250: mid-send.
  smtp.script({ kind: 'hold' });
  const held = smtp.held();
  const created = await postJson(`${url}/users/`, {
    username: 'ada_lovelace',
    email: 'ada@example.com',
    password: 'SecurePass123',
    full_name: 'Ada Lovelace',
    role: 'user',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await held;
  victim.child.kill('SIGKILL');
  assert.equal(await victim.exited, 'SIGKILL');
  assert.equal(smtp.arrived, 1, 'the message had fully arrived when the worker died');
  assert.equal(smtp.accepted.length, 0, 'but the server never accepted it');

  const successor = runHerald(t, ['worker'], env);
  await started(successor);
  await eventually(() => (smtp.accepted.length > 0 ? true : undefined), {
    timeoutMs: 20_000,
    message: 'the email accepted after the restart',
  });
  const [mail] = smtp.accepted;
  assert.ok(mail);
  assert.deepEqual(mail.to, ['ada@example.com']);
  assert.equal(mail.subject, 'Welcome to Herald');
  assert.match(mail.raw, /Ada Lovelace/);

  // The SMTP server's 250 comes before the worker records the outcome: wait for the record.
  const body = await eventually(
    async () => {
      const answer = await getJson(
        `${url}/api/v1/notifications?event_type=user.created&channel=email`,
      );
      const listed = answer.body.deliveries as Array<{ status: string }>;
      return listed.some((d) => d.status === 'sent') ? answer.body : undefined;
    },
    { message: 'the delivery recorded as sent' },
  );
  const deliveries = body.deliveries as Array<Record<string, unknown>>;
  assert.equal(deliveries.length, 1, 'one delivery for the event, channel and recipient');
  const [delivery] = deliveries;
  assert.ok(delivery);
  assert.equal(delivery.status, 'sent');
  assert.equal(delivery.recipient, 'ada@example.com');
  assert.equal(delivery.attempts, 2);
  assert.deepEqual(
    (delivery.attempt_log as Array<{ outcome: string }>).map((a) => a.outcome),
    ['interrupted', 'sent'],
  );
  assert.equal(mail.messageId, `<${delivery.id}@herald.test>`, 'the stable Message-ID');

  // Nothing else arrives later: one email in all.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(smtp.accepted.length, 1);
  assert.equal(smtp.arrived, 2);
  assert.equal(await successor.stop('SIGTERM'), 0);
  assert.equal(await api.stop('SIGTERM'), 0);
});
