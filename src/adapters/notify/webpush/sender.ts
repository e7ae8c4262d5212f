import {
  DeliveryError,
  type PushMessage,
  type PushSender,
  type SendReceipt,
} from '../../../ports/notifier.ts';
import { post } from '../http.ts';

export interface VapidKeys {
  /** mailto: or https: contact of the sender. */
  subject: string;
  publicKey: string;
  privateKey: string;
}

/** How the encrypted request reaches the push service; the default is fetch. */
export type PushTransport = (
  url: string,
  headers: Record<string, string>,
  body: Uint8Array,
  signal: AbortSignal,
) => Promise<{ status: number; headers: Headers }>;

const fetchTransport: PushTransport = async (url, headers, body, signal) => {
  const { response } = await post('webpush', url, { headers, body }, signal);
  return { status: response.status, headers: response.headers };
};

/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291): the
 * web-push package builds the encrypted request, which is sent here under the attempt's
 * deadline. 404 and 410 mean the subscription is gone: permanent, and marked `gone` so it is
 * forgotten.
 */
export class WebPushSender implements PushSender {
  readonly name = 'webpush';
  readonly #vapid: VapidKeys;
  readonly #transport: PushTransport;

  constructor(vapid: VapidKeys, transport: PushTransport = fetchTransport) {
    this.#vapid = vapid;
    this.#transport = transport;
  }

  async send(message: PushMessage, signal: AbortSignal): Promise<SendReceipt> {
    // Loaded on the first push: a process that sends none does not carry web-push.
    const webpush = (await import('web-push')).default;
    const details = webpush.generateRequestDetails(message.subscription, message.payload, {
      vapidDetails: this.#vapid,
      TTL: message.ttlSeconds,
      ...(message.topic === undefined ? {} : { topic: message.topic }),
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(details.headers)) headers[name] = String(value);
    try {
      const { status, headers: answer } = await this.#transport(
        details.endpoint,
        headers,
        details.body ?? new Uint8Array(),
        signal,
      );
      const location = answer.get('location');
      return {
        provider: this.name,
        statusCode: status,
        ...(location === null ? {} : { providerMessageId: location }),
      };
    } catch (error) {
      if (
        error instanceof DeliveryError &&
        (error.statusCode === 404 || error.statusCode === 410)
      ) {
        throw new DeliveryError(`push subscription gone (${error.statusCode})`, {
          retryable: false,
          statusCode: error.statusCode,
          gone: true,
          cause: error,
        });
      }
      throw error;
    }
  }
}
