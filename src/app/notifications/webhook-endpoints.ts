import { uuidv7 } from '../../domain/ids.ts';
import { generateWebhookSecret, isWebhookSecret } from '../../domain/notifications.ts';
import { ErrorCodes, HeraldError } from '../../errors.ts';
import type {
  NotificationStore,
  WebhookEndpoint,
  WebhookEndpointChanges,
} from '../../ports/notification-store.ts';

/**
 * Checks that a URL may be called (the SSRF guard); throws TARGET_REFUSED if not, or
 * DELIVERY_FAILED when it does not resolve.
 */
export interface TargetCheck {
  check(url: string): Promise<unknown>;
}

/** An endpoint as shown to admins: never its secrets. */
export type PublicEndpoint = Omit<WebhookEndpoint, 'secret' | 'previousSecret'>;

export function publicEndpoint(endpoint: WebhookEndpoint): PublicEndpoint {
  const { secret: _secret, previousSecret: _previous, ...rest } = endpoint;
  return rest;
}

const notFound = (id: string) =>
  new HeraldError(ErrorCodes.NOT_FOUND, `no webhook endpoint with id "${id}"`);

/**
 * Webhook endpoint administration. A secret is returned once, when the endpoint is created
 * or its secret rotated; after a rotation the previous secret keeps signing (alongside the
 * new one) for `rotationMs`, so receivers can switch without losing a message.
 */
export class WebhookEndpoints {
  readonly #store: NotificationStore;
  readonly #targets: TargetCheck;
  readonly #rotationMs: number;

  constructor(store: NotificationStore, targets: TargetCheck, options: { rotationMs: number }) {
    this.#store = store;
    this.#targets = targets;
    this.#rotationMs = options.rotationMs;
  }

  /**
   * A URL the target check refuses, or that does not resolve, is bad input: VALIDATION naming
   * `url` (the check's own error is its cause).
   */
  async #checkUrl(url: string): Promise<void> {
    try {
      await this.#targets.check(url);
    } catch (error) {
      const refused =
        error instanceof HeraldError &&
        (error.code === ErrorCodes.TARGET_REFUSED || error.code === ErrorCodes.DELIVERY_FAILED);
      if (!refused) throw error;
      throw new HeraldError(ErrorCodes.VALIDATION, error.message, {
        cause: error,
        details: { field: 'url' },
      });
    }
  }

  async create(input: {
    url: string;
    eventTypes: string[];
    description?: string | null;
    secret?: string;
  }): Promise<{ endpoint: PublicEndpoint; secret: string }> {
    await this.#checkUrl(input.url);
    const secret = input.secret ?? generateWebhookSecret();
    if (!isWebhookSecret(secret)) {
      throw new HeraldError(
        ErrorCodes.VALIDATION,
        'secret must be "whsec_" followed by base64 of 24 to 64 bytes',
        { details: { field: 'secret' } },
      );
    }
    const endpoint = await this.#store.createEndpoint({
      id: uuidv7(),
      url: input.url,
      description: input.description ?? null,
      eventTypes: [...new Set(input.eventTypes)],
      secret,
    });
    return { endpoint: publicEndpoint(endpoint), secret };
  }

  async list(): Promise<PublicEndpoint[]> {
    return (await this.#store.listEndpoints()).map(publicEndpoint);
  }

  async get(id: string): Promise<PublicEndpoint> {
    const endpoint = await this.#store.getEndpoint(id);
    if (endpoint === undefined) throw notFound(id);
    return publicEndpoint(endpoint);
  }

  async update(id: string, changes: WebhookEndpointChanges): Promise<PublicEndpoint> {
    if (changes.url !== undefined) await this.#checkUrl(changes.url);
    const endpoint = await this.#store.updateEndpoint(id, {
      ...changes,
      ...(changes.enabled === false ? { disabledReason: 'disabled by an admin' } : {}),
    });
    if (endpoint === undefined) throw notFound(id);
    return publicEndpoint(endpoint);
  }

  async rotateSecret(id: string): Promise<{ endpoint: PublicEndpoint; secret: string }> {
    const secret = generateWebhookSecret();
    const endpoint = await this.#store.rotateSecret(id, secret, this.#rotationMs);
    if (endpoint === undefined) throw notFound(id);
    return { endpoint: publicEndpoint(endpoint), secret };
  }

  async delete(id: string): Promise<void> {
    if (!(await this.#store.deleteEndpoint(id))) throw notFound(id);
  }
}
