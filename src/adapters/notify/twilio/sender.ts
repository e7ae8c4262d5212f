import type { SendReceipt, SmsMessage, SmsSender } from '../../../ports/notifier.ts';
import { post } from '../http.ts';

export interface TwilioOptions {
  /** e.g. https://api.twilio.com (or a compatible gateway). */
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** The sender number (E.164) or messaging service. */
  from: string;
}

/**
 * SMS through Twilio's Messages API: `POST /2010-04-01/Accounts/{sid}/Messages.json`, form
 * encoded, HTTP Basic auth with the account SID and token; 201 with the message `sid`.
 */
export class TwilioSmsSender implements SmsSender {
  readonly name = 'twilio';
  readonly #url: string;
  readonly #authorization: string;
  readonly #from: string;

  constructor(options: TwilioOptions) {
    const base = options.baseUrl.replace(/\/+$/, '');
    this.#url = `${base}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
    this.#authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
    this.#from = options.from;
  }

  async send(message: SmsMessage, signal: AbortSignal): Promise<SendReceipt> {
    const { response, text } = await post(
      this.name,
      this.#url,
      {
        headers: {
          authorization: this.#authorization,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          To: message.to,
          From: this.#from,
          Body: message.body,
        }).toString(),
      },
      signal,
    );
    let sid: unknown;
    try {
      sid = (JSON.parse(text) as { sid?: unknown }).sid;
    } catch {
      sid = undefined;
    }
    return {
      provider: this.name,
      statusCode: response.status,
      ...(typeof sid === 'string' ? { providerMessageId: sid } : {}),
    };
  }
}
