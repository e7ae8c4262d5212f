/** What the HTTP notification adapters (SendGrid, Twilio, Web Push) share. */
import { httpDeliveryError, transportDeliveryError } from '../../ports/notifier.ts';

/** Retry-After (seconds or an HTTP date) → milliseconds from `now`; undefined when absent. */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * One POST under the attempt's deadline (`signal`); redirects are not followed. Resolves with
 * a 2xx response and its body text; throws a classified DeliveryError otherwise.
 */
export async function post(
  provider: string,
  url: string,
  init: { headers: Record<string, string>; body: string | Uint8Array },
  signal: AbortSignal,
): Promise<{ response: Response; text: string }> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: init.headers,
      body: init.body,
      redirect: 'manual',
      signal,
    });
    text = await response.text();
  } catch (error) {
    throw transportDeliveryError(provider, error, signal);
  }
  if (response.status < 200 || response.status >= 300) {
    throw httpDeliveryError(provider, response.status, text, parseRetryAfter(response.headers));
  }
  return { response, text };
}
