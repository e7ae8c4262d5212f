import type nodemailer from 'nodemailer';
import {
  DeliveryError,
  type EmailMessage,
  type EmailSender,
  type SendReceipt,
} from '../../../ports/notifier.ts';

export interface SmtpOptions {
  /** smtp://user:pass@host:587 (STARTTLS when offered) or smtps://host:465. */
  url: string;
  from: string;
  /** Connection, greeting and socket-inactivity timeout of one attempt. */
  timeoutMs: number;
}

// Connection-level failures nodemailer reports without an SMTP reply code.
const TRANSIENT_CODES = new Set([
  'ETIMEDOUT',
  'ECONNECTION',
  'ESOCKET',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
]);

/**
 * SMTP reply codes are classified the SMTP way: 4xx is a transient refusal (try again), 5xx
 * permanent (RFC 5321 §4.2.1). No reply at all (timeouts, resets) is transient.
 */
export function classifySmtpError(error: unknown): DeliveryError {
  const { responseCode, code, response } = error as {
    responseCode?: number;
    code?: string;
    response?: string;
  };
  const detail = response ?? (error instanceof Error ? error.message : String(error));
  if (typeof responseCode === 'number') {
    return new DeliveryError(`smtp answered ${responseCode}: ${detail.slice(0, 300)}`, {
      retryable: responseCode < 500,
      statusCode: responseCode,
      cause: error,
    });
  }
  const retryable = code === undefined || TRANSIENT_CODES.has(code);
  return new DeliveryError(`smtp ${code ?? 'error'}: ${detail.slice(0, 300)}`, {
    retryable,
    cause: error,
  });
}

/**
 * Email over SMTP with nodemailer; one connection per message (no pool), closed when the
 * attempt's deadline aborts it. The Message-ID is the delivery's, the
 * same on every attempt.
 */
export class SmtpEmailSender implements EmailSender {
  readonly name = 'smtp';
  readonly #options: SmtpOptions;

  constructor(options: SmtpOptions) {
    this.#options = options;
  }

  async send(message: EmailMessage, signal: AbortSignal): Promise<SendReceipt> {
    const { url, from, timeoutMs } = this.#options;
    // Loaded on the first email: a process that sends none (the API, a worker with another
    // transport) does not carry nodemailer.
    const { createTransport } = (await import('nodemailer')).default;
    const transport = createTransport({
      url,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    } as never);
    try {
      // nodemailer 10 closes the attempt's connection when the signal aborts.
      const info = await transport.sendMail({
        signal,
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html === undefined ? {} : { html: message.html }),
        messageId: message.messageId,
        headers: { 'X-Herald-Delivery-Id': message.idempotencyKey },
      } as Parameters<ReturnType<typeof nodemailer.createTransport>['sendMail']>[0]);
      const code = /^(\d{3})/.exec(String(info.response ?? ''));
      return {
        provider: this.name,
        providerMessageId: info.messageId,
        ...(code ? { statusCode: Number(code[1]) } : {}),
      };
    } catch (error) {
      if (signal.aborted) {
        throw new DeliveryError('smtp attempt timed out', { retryable: true, cause: error });
      }
      throw classifySmtpError(error);
    } finally {
      transport.close();
    }
  }
}
