import type { Logger } from '../../../observability/logger.ts';
import type {
  EmailMessage,
  EmailSender,
  PushMessage,
  PushSender,
  SendReceipt,
  SmsMessage,
  SmsSender,
} from '../../../ports/notifier.ts';

/**
 * Notifications written to the log instead of sent: the default when no provider is
 * configured, so `npm start` needs nothing and the delivery log still shows what would go out.
 */
export class LogNotifier implements EmailSender, SmsSender, PushSender {
  readonly name = 'log';
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  async send(message: EmailMessage | SmsMessage | PushMessage): Promise<SendReceipt> {
    if ('subject' in message) {
      this.#logger.info(
        { to: message.to, subject: message.subject, messageId: message.messageId },
        'email (log transport, not sent)',
      );
    } else if ('subscription' in message) {
      this.#logger.info(
        { endpoint: message.subscription.endpoint, payload: message.payload },
        'push (log transport, not sent)',
      );
    } else {
      this.#logger.info({ to: message.to, body: message.body }, 'sms (log transport, not sent)');
    }
    return { provider: this.name };
  }
}
