import type { BatchHandler, DeliveredMessage } from '../../ports/broker.ts';

/**
 * Hands `batch` to the consumer's handler as every transport does: how many messages it
 * handled (a prefix, within the batch) and how long the first unhandled one waits
 * (`retryAfterMs`, 0 when all were handled). A handler that throws handled none; the batch
 * waits `afterThrowMs` and the error goes to `onError`.
 */
export async function handOver(
  handler: BatchHandler,
  batch: DeliveredMessage[],
  onError: ((error: unknown) => void) | undefined,
  afterThrowMs: number,
): Promise<{ handled: number; retryAfterMs: number }> {
  try {
    const outcome = await handler(batch);
    const handled = Math.min(Math.max(outcome.handled, 0), batch.length);
    return { handled, retryAfterMs: handled < batch.length ? (outcome.retryAfterMs ?? 0) : 0 };
  } catch (error) {
    onError?.(error);
    return { handled: 0, retryAfterMs: afterThrowMs };
  }
}
