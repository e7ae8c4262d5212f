/** End-to-end measurements on a running Herald: accepted over HTTP → persisted by a worker. */
import { batchBody } from './events.ts';
import type { HeraldTarget, LatencySummary } from './herald.ts';
import { type LoadResult, runLoad } from './load.ts';
import { waitForCount } from './postgres.ts';

export interface Sustained {
  events: number;
  /** From the first request to the last event persisted. */
  seconds: number;
  events_per_s: number;
  /** Events accepted per second while publishing. */
  ingest_events_per_s: number;
  completed: boolean;
  processed: number;
  http: LoadResult;
}

/**
 * Publishes `events` as batches of `batch` over `connections` connections as fast as Herald
 * takes them, and times until every accepted event is persisted.
 */
export async function sustained(
  target: HeraldTarget,
  events: number,
  options: { batch?: number; connections?: number; timeoutMs?: number } = {},
): Promise<Sustained> {
  const batch = options.batch ?? 1000;
  const before = await target.processedCount();
  const http = await runLoad({
    url: `${target.url}/api/v1/events/batch`,
    body: batchBody(batch),
    connections: options.connections ?? 4,
    amount: Math.max(1, Math.ceil(events / batch)),
  });
  const accepted = http.ok * batch;
  const done = await waitForCount(
    () => target.processedCount(),
    before + accepted,
    options.timeoutMs ?? 300_000,
    200,
  );
  const end = done.at ?? Date.now();
  const seconds = (end - http.started_at_ms) / 1000;
  return {
    events: accepted,
    seconds: Math.round(seconds * 1000) / 1000,
    events_per_s: Math.round((done.last - before) / seconds),
    ingest_events_per_s: Math.round(accepted / http.duration_s),
    completed: done.at !== undefined,
    processed: done.last - before,
    http,
  };
}

/**
 * Sends one batch and waits until it is persisted, so that measuring starts with every
 * consumer joined and its partitions assigned: a Kafka consumer group's first join takes a
 * second or more after the worker reports it started, and would otherwise land in the tail of
 * whatever is measured first. Resolves to how long the batch took, ms.
 */
export async function warmUp(target: HeraldTarget, events = 200, timeoutMs = 60_000) {
  const before = await target.processedCount();
  const started = Date.now();
  const body = batchBody(events);
  // A machine busy starting several processes may shed the first batch (503 before anything is
  // accepted): sent again as a client would, after Retry-After.
  let status = 0;
  for (let attempt = 0; attempt < 10 && status !== 202; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
    const response = await fetch(`${target.url}/api/v1/events/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await response.arrayBuffer();
    status = response.status;
    if (status !== 202 && status !== 503) break;
  }
  if (status !== 202) throw new Error(`warm-up batch answered ${status}`);
  const done = await waitForCount(() => target.processedCount(), before + events, timeoutMs, 20);
  if (done.at === undefined) throw new Error(`warm-up batch not persisted in ${timeoutMs} ms`);
  return done.at - started;
}

export interface AtRate {
  offered_events_per_s: number;
  events_per_request: number;
  requests_per_s: number;
  events: number;
  /** Every accepted event persisted before the timeout. */
  completed: boolean;
  /** Accepted → persisted. */
  latency_ms: LatencySummary;
  /** The HTTP side (202 latency) of the same run. */
  http: LoadResult;
}

/**
 * Offers `rate` events/s for `durationS` (`requestsPerS` requests a second, each a batch of
 * rate/requestsPerS events), waits until they are all persisted, and reports the
 * accepted → persisted latency of exactly those events.
 */
export async function atRate(
  target: HeraldTarget,
  rate: number,
  durationS: number,
  options: { requestsPerS?: number; connections?: number; timeoutMs?: number } = {},
): Promise<AtRate> {
  const requestsPerS = Math.min(options.requestsPerS ?? 100, rate);
  const batch = Math.max(1, Math.round(rate / requestsPerS));
  const mark = await target.markLatency();
  const before = await target.processedCount();
  const http = await runLoad({
    url: `${target.url}/api/v1/events/batch`,
    body: batchBody(batch),
    connections: options.connections ?? 32,
    overallRate: requestsPerS,
    durationS,
  });
  const accepted = http.ok * batch;
  const done = await waitForCount(
    () => target.processedCount(),
    before + accepted,
    options.timeoutMs ?? 120_000,
    100,
  );
  return {
    offered_events_per_s: rate,
    events_per_request: batch,
    requests_per_s: requestsPerS,
    events: accepted,
    completed: done.at !== undefined,
    latency_ms: await target.latencySince(mark),
    http,
  };
}
