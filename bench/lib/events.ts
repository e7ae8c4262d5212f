/** The events the benchmarks send: the seed's analytics example, and batches of varied ones. */

/** The README's (and the seeds') analytics example, sent as is: one user, one partition. */
export const SEED_ANALYTICS = {
  user_id: 'user_12345',
  event_type: 'page_view',
  timestamp: '2024-01-01T12:00:00Z',
  metadata: { page: '/dashboard', source: 'web' },
};

const TYPES = ['page_view', 'click', 'purchase', 'signup'];

/** Event `i` of a run: 1,000 users (spread over every partition), a few types. */
export function analyticsEvent(i: number, idPrefix?: string): Record<string, unknown> {
  const event: Record<string, unknown> = {
    user_id: `user_${i % 1000}`,
    event_type: TYPES[i % TYPES.length],
    timestamp: '2024-01-01T12:00:00Z',
    metadata: { page: `/page/${i % 50}`, source: 'web', n: i },
  };
  if (idPrefix !== undefined) event.id = `${idPrefix}-${i}`;
  return event;
}

/** A `POST /api/v1/events/batch` body of `size` events. */
export function batchBody(size: number, from = 0): string {
  return JSON.stringify({
    events: Array.from({ length: size }, (_, i) => analyticsEvent(from + i)),
  });
}
