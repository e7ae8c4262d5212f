/**
 * The notifications' part of the start (platform/start.ts): picks the senders from the
 * configuration (SMTP when SMTP_URL is set, else SendGrid with SENDGRID_API_KEY, else the log;
 * SMS with TWILIO_*, push with VAPID_*; webhooks always) and starts the notification service
 * as its own consumer group with its dispatcher.
 */
import { LogNotifier } from '../adapters/notify/log/sender.ts';
import { parseAddress, SendGridEmailSender } from '../adapters/notify/sendgrid/sender.ts';
import { SmtpEmailSender } from '../adapters/notify/smtp/sender.ts';
import { TwilioSmsSender } from '../adapters/notify/twilio/sender.ts';
import { SignedWebhookSender } from '../adapters/notify/webhook/sender.ts';
import { TargetGuard } from '../adapters/notify/webhook/target-guard.ts';
import { WebPushSender } from '../adapters/notify/webpush/sender.ts';
import { PostgresNotificationStore } from '../adapters/store/postgres/notifications.ts';
import { NotificationDispatcher } from '../app/notifications/dispatcher.ts';
import { NotificationIntake } from '../app/notifications/intake.ts';
import { NotificationService } from '../app/notifications/service.ts';
import { WebhookEndpoints } from '../app/notifications/webhook-endpoints.ts';
import { type Config, checkNotificationSettings } from '../config.ts';
import { SCHEMAS_TOPIC } from '../domain/schemas/model.ts';
import { USERS_TOPIC } from '../domain/users.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';
import type { EmailSender, Notifiers } from '../ports/notifier.ts';
import { consumerId } from './consumer-groups.ts';
import type { Stops } from './stops.ts';

export function targetGuard(config: Config): TargetGuard {
  return new TargetGuard({ allow: config.webhookAllowPrivateTargets });
}

/** The admin side (API role): webhook endpoint management. */
export function webhookEndpoints(config: Config, db: Database): WebhookEndpoints {
  return new WebhookEndpoints(new PostgresNotificationStore(db), targetGuard(config), {
    rotationMs: config.webhookSecretRotationMs,
  });
}

function emailSender(config: Config, logger: Logger): EmailSender {
  const transport =
    config.emailTransport !== 'auto'
      ? config.emailTransport
      : config.smtpUrl !== undefined
        ? 'smtp'
        : config.sendgridApiKey !== undefined
          ? 'sendgrid'
          : 'log';
  if (transport === 'smtp' && config.smtpUrl !== undefined) {
    return new SmtpEmailSender({
      url: config.smtpUrl,
      from: config.emailFrom,
      timeoutMs: config.notifyTimeoutMs,
    });
  }
  if (transport === 'sendgrid' && config.sendgridApiKey !== undefined) {
    return new SendGridEmailSender({
      baseUrl: config.sendgridBaseUrl,
      apiKey: config.sendgridApiKey,
      from: config.emailFrom,
    });
  }
  return new LogNotifier(logger);
}

/** The senders the configuration asks for; an incomplete provider setting fails naming it. */
export function notifiersFrom(config: Config, logger: Logger): Notifiers {
  const guard = targetGuard(config);
  checkNotificationSettings(config);
  const notifiers: Notifiers = {
    email: emailSender(config, logger),
    webhook: new SignedWebhookSender(guard),
  };
  const { twilioAccountSid, twilioAuthToken, twilioFrom } = config;
  if (twilioAccountSid !== undefined && twilioAuthToken !== undefined && twilioFrom !== undefined) {
    notifiers.sms = new TwilioSmsSender({
      baseUrl: config.twilioBaseUrl,
      accountSid: twilioAccountSid,
      authToken: twilioAuthToken,
      from: twilioFrom,
    });
  }
  if (config.vapidPublicKey !== undefined && config.vapidPrivateKey !== undefined) {
    // Push endpoints come from browsers, i.e. from users: the SSRF guard applies to them too.
    notifiers.push = new WebPushSender(
      {
        subject: config.vapidSubject,
        publicKey: config.vapidPublicKey,
        privateKey: config.vapidPrivateKey,
      },
      async (url, headers, body, signal) => guard.post('webpush', url, headers, body, signal),
    );
  }
  return notifiers;
}

/** Starts the notification service (worker role, NOTIFICATIONS_ENABLED) as its own consumer group. */
export async function startNotifications(
  config: Config,
  deps: { db: Database; broker: Broker; metrics: Metrics; logger: Logger },
  stops: Stops,
  notifiers: Notifiers = notifiersFrom(config, deps.logger),
): Promise<NotificationService> {
  const { db, broker, metrics, logger } = deps;
  const store = new PostgresNotificationStore(db);
  const log = logger.child({ component: 'notifications' });
  const dispatcher = new NotificationDispatcher(store, notifiers, metrics.notifications, log, {
    pollMs: config.notifyPollMs,
    timeoutMs: config.notifyTimeoutMs,
    leaseMs: config.notifyLeaseMs,
    batchSize: 10,
    retry: { baseMs: config.notifyRetryBaseMs, maxMs: config.notifyRetryMaxMs },
    maxAttempts: config.notifyMaxAttempts,
    webhookDisable: {
      afterFailures: config.webhookDisableAfterFailures,
      afterMs: config.webhookDisableAfterMs,
    },
    messageIdDomain: parseAddress(config.emailFrom).email.split('@')[1] ?? 'herald.local',
  });
  const intake = new NotificationIntake(store, metrics.notifications, {
    sms: notifiers.sms !== undefined,
    push: notifiers.push !== undefined,
  });
  const service = new NotificationService(intake, dispatcher, log, {
    consumerId: consumerId('notify'),
    topics: [...new Set([USERS_TOPIC, SCHEMAS_TOPIC, ...config.notifyTopics])],
    batchSize: Math.min(config.workerBatchSize, 100),
    retry: { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs },
  });
  await service.start(broker);
  stops.add('notifications', () => service.stop());
  log.info(
    {
      email: notifiers.email.name,
      sms: notifiers.sms?.name ?? 'off',
      push: notifiers.push?.name ?? 'off',
    },
    'notification channels',
  );
  return service;
}
