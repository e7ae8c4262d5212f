/**
 * Reading what another producer may have written. A shared broker carries records Herald did
 * not write; one that cannot be read is handed to the pipeline marked malformed (and
 * dead-lettered as poison), never thrown on inside the consumer, where it would stop the
 * partition for good.
 */

/** A JSON object from its text, or why it is not one (`is not JSON`, …). */
export function decodeObject(text: string | null | undefined): Record<string, unknown> | string {
  if (text === undefined || text === null) return 'is missing';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'is not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'is not a JSON object';
  }
  return value as Record<string, unknown>;
}

// The instants a timestamptz and an ISO string both hold: years 1 to 9999.
const EARLIEST_MS = new Date('0001-01-01T00:00:00Z').getTime();
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * When a message was accepted, from the milliseconds a record carries (Kafka's CreateTime is
 * whatever the producer set): the time it is read instead when that is no instant the store can
 * hold, since every stored row carries it.
 */
export function acceptedAtOf(ms: number): Date {
  return Number.isFinite(ms) && ms >= EARLIEST_MS && ms <= LATEST_MS ? new Date(ms) : new Date();
}
