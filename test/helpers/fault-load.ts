/**
 * A producer for fault tests: `lanes` concurrent clients, each owning its own keys and sending
 * batches in which every key's `properties.seq` goes up by one per event. A lane sends its next
 * batch only after the previous one was acknowledged, so a key's acceptance order is its
 * sequence order. A refused or failed request (503, 429, a reset connection, a dead API) is
 * retried with the same event ids — what a careful client does — so a retry can never create a
 * second event. Every 202 is recorded in the DeliveryLog.
 */
import { DeliveryLog } from './delivery-check.ts';

export interface LoadOptions {
  /** The API's base URL, or a function giving the current one (the API may be replaced). */
  url: string | (() => string);
  /** Events to send in all; the load ends when they are acknowledged (or it is stopped). */
  total: number;
  lanes?: number;
  keysPerLane?: number;
  batchSize?: number;
  /** Prefix of event ids and keys, unique per test. */
  runId: string;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Per-request timeout; a timed-out request counts as failed and is retried. */
  timeoutMs?: number;
}

export interface LoadStats {
  requests: number;
  /** Requests answered with something other than 202, by status (0 = no answer). */
  refused: Map<number, number>;
  retryAfterSeen: number;
}

export interface Load {
  log: DeliveryLog;
  stats: LoadStats;
  /** Resolves when every event is acknowledged or the load was stopped. */
  done: Promise<void>;
  /** Stops after the requests in flight; unacknowledged events are simply not acknowledged. */
  stop(): Promise<void>;
}

export function startLoad(options: LoadOptions): Load {
  const lanes = options.lanes ?? 4;
  const keysPerLane = options.keysPerLane ?? 8;
  const batchSize = options.batchSize ?? 100;
  const perLane = Math.ceil(options.total / lanes);
  const urlOf = typeof options.url === 'string' ? () => options.url as string : options.url;
  const log = new DeliveryLog();
  const stats: LoadStats = { requests: 0, refused: new Map(), retryAfterSeen: 0 };
  let stopped = false;

  const refuse = (status: number) =>
    stats.refused.set(status, (stats.refused.get(status) ?? 0) + 1);

  const lane = async (laneIndex: number) => {
    const seqs = new Array<number>(keysPerLane).fill(0);
    for (let sent = 0; sent < perLane && !stopped; ) {
      const events = [];
      for (let i = 0; i < Math.min(batchSize, perLane - sent); i++) {
        const k = (sent + i) % keysPerLane;
        const key = `${options.runId}-l${laneIndex}k${k}`;
        const seq = seqs[k] ?? 0;
        seqs[k] = seq + 1;
        const id = `${key}-${seq}`;
        log.recordSent(id, key, seq);
        // Its own event type per key: the rollups then count each key's effects (delivery-check).
        events.push({ id, event_type: key, user_id: key, properties: { seq } });
      }
      const body = JSON.stringify(events);
      // The same batch until it is acknowledged (or the load is stopped).
      for (let attempt = 0; !stopped; attempt++) {
        stats.requests++;
        let status = 0;
        let retryAfter: string | null = null;
        try {
          const response = await fetch(`${urlOf()}/api/v1/events/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...options.headers },
            body,
            signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
          });
          status = response.status;
          retryAfter = response.headers.get('retry-after');
          const answer = (await response.json()) as { results?: { event_id?: string }[] };
          if (status === 202) {
            log.acknowledge(
              (answer.results ?? []).flatMap((r) => (r.event_id ? [r.event_id] : [])),
            );
            break;
          }
        } catch {
          // no answer: the API died, the connection was cut, or the request timed out
        }
        refuse(status);
        if (retryAfter !== null) stats.retryAfterSeen++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 500)));
      }
      sent += events.length;
    }
  };

  const done = Promise.all(Array.from({ length: lanes }, (_, i) => lane(i))).then(() => {});
  return {
    log,
    stats,
    done,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}
