import { webhookHeaders } from '../../../domain/notifications.ts';
import type { SendReceipt, WebhookMessage, WebhookSender } from '../../../ports/notifier.ts';
import type { TargetGuard } from './target-guard.ts';

/**
 * Webhooks signed per Standard Webhooks: `webhook-id`, `webhook-timestamp` (seconds, the
 * time of this attempt, so receivers can refuse replays) and `webhook-signature` with one
 * `v1,` signature per live secret. Sent through the target guard: private addresses refused,
 * the checked address connected to, redirects not followed.
 */
export class SignedWebhookSender implements WebhookSender {
  readonly name = 'webhook';
  readonly #guard: TargetGuard;
  readonly #now: () => number;

  constructor(guard: TargetGuard, now: () => number = Date.now) {
    this.#guard = guard;
    this.#now = now;
  }

  async send(message: WebhookMessage, signal: AbortSignal): Promise<SendReceipt> {
    const timestamp = Math.floor(this.#now() / 1000);
    const { status } = await this.#guard.post(
      this.name,
      message.url,
      {
        'content-type': 'application/json',
        'user-agent': 'Herald-Webhooks/1',
        ...webhookHeaders(message.secrets, message.id, timestamp, message.body),
      },
      message.body,
      signal,
    );
    return { provider: this.name, statusCode: status };
  }
}
