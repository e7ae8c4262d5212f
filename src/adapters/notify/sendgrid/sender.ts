import type { EmailMessage, EmailSender, SendReceipt } from '../../../ports/notifier.ts';
import { post } from '../http.ts';

export interface SendGridOptions {
  /** e.g. https://api.sendgrid.com (or a compatible gateway). */
  baseUrl: string;
  apiKey: string;
  /** `Name <address>` or a bare address. */
  from: string;
}

/** `Herald <no-reply@x>` → { name, email }; a bare address → { email }. */
export function parseAddress(text: string): { email: string; name?: string } {
  const match = /^\s*(.*?)\s*<([^<>\s]+)>\s*$/.exec(text);
  if (match === null) return { email: text.trim() };
  const name = (match[1] ?? '').replace(/^"|"$/g, '');
  return name === '' ? { email: match[2] ?? '' } : { email: match[2] ?? '', name };
}

/**
 * Email through SendGrid's v3 Mail Send API (`POST /v3/mail/send`, 202 on acceptance, the
 * message id in `X-Message-Id`). Our delivery id travels as a custom argument and the
 * Message-ID header stays the same across attempts.
 */
export class SendGridEmailSender implements EmailSender {
  readonly name = 'sendgrid';
  readonly #url: string;
  readonly #apiKey: string;
  readonly #from: { email: string; name?: string };

  constructor(options: SendGridOptions) {
    this.#url = `${options.baseUrl.replace(/\/+$/, '')}/v3/mail/send`;
    this.#apiKey = options.apiKey;
    this.#from = parseAddress(options.from);
  }

  async send(message: EmailMessage, signal: AbortSignal): Promise<SendReceipt> {
    const content = [{ type: 'text/plain', value: message.text }];
    if (message.html !== undefined) content.push({ type: 'text/html', value: message.html });
    const { response } = await post(
      this.name,
      this.#url,
      {
        headers: {
          authorization: `Bearer ${this.#apiKey}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          personalizations: [{ to: [{ email: message.to }] }],
          from: this.#from,
          subject: message.subject,
          content,
          headers: { 'Message-ID': message.messageId },
          custom_args: { herald_delivery_id: message.idempotencyKey },
        }),
      },
      signal,
    );
    const id = response.headers.get('x-message-id');
    return {
      provider: this.name,
      statusCode: response.status,
      ...(id === null ? {} : { providerMessageId: id }),
    };
  }
}
