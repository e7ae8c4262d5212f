import { sleep } from './common.ts';

export interface PacedRunOptions {
  count: number;
  /** Offered rate, events per second; 0 = as fast as `concurrency` allows. */
  rate: number;
  /** Most requests in flight at once. */
  concurrency: number;
  /** Sends the i-th event; `scheduledAt` is when the schedule wanted it sent (ms, epoch). */
  send(i: number, scheduledAt: number): Promise<void>;
  signal?: AbortSignal;
}

/**
 * Open-loop pacing: event i is due at start + i/rate, whether or not earlier ones have been
 * answered. When `concurrency` requests are already in flight, the next one waits for a slot;
 * measuring from `scheduledAt` then counts that wait as latency instead of hiding it
 * (coordinated omission).
 */
export async function runPaced(options: PacedRunOptions): Promise<{ started: number }> {
  const { count, rate, concurrency, send, signal } = options;
  const start = Date.now();
  const inFlight = new Set<Promise<void>>();
  let started = 0;
  for (let i = 0; i < count; i++) {
    if (signal?.aborted) break;
    const due = rate > 0 ? start + (i * 1000) / rate : Date.now();
    const wait = due - Date.now();
    if (wait > 1) await sleep(wait, signal);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (signal?.aborted) break;
    const p: Promise<void> = send(i, rate > 0 ? due : Date.now())
      .catch(() => {})
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    started++;
  }
  await Promise.all(inFlight);
  return { started };
}
