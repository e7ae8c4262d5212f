/**
 * The outside systems notifications go through, one small interface per channel: email (SMTP,
 * a SendGrid-compatible API, or the log), SMS (a Twilio-compatible API), Web Push, webhooks.
 * A sender makes one attempt and either resolves with what the provider said or throws a
 * DeliveryError saying whether another attempt may succeed; retrying is the dispatcher's job.
 */
import { ErrorCodes, HeraldError } from '../errors.ts';

export const CHANNELS = ['email', 'sms', 'push', 'webhook'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What a provider answered to an accepted send. */
export interface SendReceipt {
  /** Which adapter sent it: smtp, sendgrid, log, twilio, webpush, webhook. */
  provider: string;
  providerMessageId?: string;
  statusCode?: number;
}

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /**
   * Stable per delivery (the same on every attempt): the Message-ID header, so a copy sent
   * twice (a crash between the provider's acceptance and our record) is recognisably one
   * message to receivers that deduplicate on it.
   */
  messageId: string;
  /** The delivery id, sent as a header/custom argument for tracing at the provider. */
  idempotencyKey: string;
}

export interface SmsMessage {
  /** E.164, e.g. +15551234567. */
  to: string;
  body: string;
  idempotencyKey: string;
}

/** A browser's PushSubscription, as `subscription.toJSON()` gives it. */
export interface PushSubscriptionTarget {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface PushMessage {
  subscription: PushSubscriptionTarget;
  /** The notification's JSON, encrypted for the subscription by the adapter. */
  payload: string;
  ttlSeconds: number;
  /** Messages with the same topic replace each other while undelivered (RFC 8030 §5.4). */
  topic?: string;
}

export interface WebhookMessage {
  url: string;
  /** `webhook-id`: the same on every attempt, so receivers can deduplicate. */
  id: string;
  /** The exact bytes that are signed and sent. */
  body: string;
  /** Current secret first; the previous one too while a rotation is in its grace period. */
  secrets: readonly string[];
}

export interface EmailSender {
  readonly name: string;
  send(message: EmailMessage, signal: AbortSignal): Promise<SendReceipt>;
  close?(): Promise<void>;
}

export interface SmsSender {
  readonly name: string;
  send(message: SmsMessage, signal: AbortSignal): Promise<SendReceipt>;
}

export interface PushSender {
  readonly name: string;
  send(message: PushMessage, signal: AbortSignal): Promise<SendReceipt>;
}

export interface WebhookSender {
  readonly name: string;
  send(message: WebhookMessage, signal: AbortSignal): Promise<SendReceipt>;
}

/** The senders configured; a channel without one gets no deliveries. */
export interface Notifiers {
  email: EmailSender;
  sms?: SmsSender;
  push?: PushSender;
  webhook: WebhookSender;
}

export interface DeliveryErrorOptions {
  retryable: boolean;
  /** The provider's HTTP status or SMTP reply code. */
  statusCode?: number;
  /** The provider asked us to wait this long (Retry-After). */
  retryAfterMs?: number;
  /** The target is gone for good (Web Push 404/410): forget it. */
  gone?: boolean;
  cause?: unknown;
}

/**
 * A failed attempt: `retryable` for timeouts, network errors, 429 and 5xx (4xx SMTP replies),
 * permanent for other 4xx (5xx SMTP replies), redirects and refused targets.
 */
export class DeliveryError extends HeraldError {
  readonly statusCode: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly gone: boolean;

  constructor(message: string, options: DeliveryErrorOptions) {
    super(ErrorCodes.DELIVERY_FAILED, message, {
      retryable: options.retryable,
      cause: options.cause,
      details: {
        ...(options.statusCode === undefined ? {} : { statusCode: options.statusCode }),
        ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
      },
    });
    this.name = 'DeliveryError';
    this.statusCode = options.statusCode;
    this.retryAfterMs = options.retryAfterMs;
    this.gone = options.gone ?? false;
  }
}

/** The usual classification of an HTTP provider's non-2xx answer. */
export function httpDeliveryError(
  provider: string,
  status: number,
  detail: string,
  retryAfterMs: number | undefined,
): DeliveryError {
  const retryable = status === 429 || status === 408 || status >= 500;
  return new DeliveryError(`${provider} answered ${status}: ${detail.slice(0, 300)}`, {
    retryable,
    statusCode: status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** A send that ended without an HTTP answer: aborted by its deadline, or a network failure. */
export function transportDeliveryError(
  provider: string,
  error: unknown,
  signal: AbortSignal,
): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const what = signal.aborted ? 'timed out' : `failed: ${String(error)}`;
  return new DeliveryError(`${provider} request ${what}`, { retryable: true, cause: error });
}
