/**
 * The packed forms funnel events arrive in from PostgreSQL, and their unpacking: a step's raw
 * events as timestamptz_send and int4send values back to back (analytics-sql.ts
 * funnelStepEvents*), and sealed hours as base64 of big-endian int4s (funnel-sealer.ts).
 */
import { endianness } from 'node:os';
import type { StepEvents } from '../../../domain/funnel-pass.ts';

/** One funnel step's events as funnelStepEvents packs them (both NULL when there are none). */
export interface PackedEvents {
  users: string | Uint8Array | null;
  times: Uint8Array | null;
}

/** funnelStepEventsNumbered's row: events of numbered users and of the others apart. */
export interface PackedNumberedEvents {
  users: Uint8Array | null;
  times: Uint8Array | null;
  numbers: Uint8Array | null;
  numbered_times: Uint8Array | null;
}

/** A sealed hour as read: its arrays still in base64, unpacked when the pass takes them. */
export interface SealedHour {
  users: string;
  times: string;
  /** What turns its times (microseconds after the hour less 2^31) into the funnel's. */
  offset: number;
}

const NO_EVENTS: StepEvents = { users: [], times: new Float64Array() };

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC). */
const POSTGRES_EPOCH_MICROS = 946_684_800_000_000;

export const toPostgresMicros = (ms: number): number => ms * 1000 - POSTGRES_EPOCH_MICROS;

const utf8 = new TextDecoder();

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** timestamptz_send values, back to back, as microseconds after `base`. */
function unpackTimes(bytes: Uint8Array, base: number): Float64Array {
  const data = view(bytes);
  const times = new Float64Array(bytes.byteLength / 8);
  for (let i = 0; i < times.length; i += 1) {
    // int64 as two halves: exact while below 2^53 microseconds (about 285 years).
    times[i] = data.getInt32(i * 8) * 2 ** 32 + data.getUint32(i * 8 + 4) - base;
  }
  return times;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Big-endian int4s (int4send values, back to back) → the int4s, swapping `bytes` in place
 * (they must be the caller's own): a swap and a view beat a DataView read per value.
 */
function int32sInPlace(bytes: Buffer): Int32Array {
  if (LITTLE_ENDIAN) bytes.swap32();
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  return new Int32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** A segment's array, base64 of big-endian int4s → the int4s. */
const int32s = (base64: string): Int32Array => int32sInPlace(Buffer.from(base64, 'base64'));

/** int4send values from the driver → the int4s (on a copy: the row is the driver's). */
const unpackNumbers = (bytes: Uint8Array): Int32Array => int32sInPlace(Buffer.from(bytes));

/**
 * Unpacks funnelStepEvents' strings; times become microseconds after `base`. Undefined when
 * the users do not split into one per time (a user id holding the separator).
 */
export function unpack(row: PackedEvents | undefined, base: number): StepEvents | undefined {
  if (row?.users == null || row.times == null) return NO_EVENTS;
  const users =
    typeof row.users === 'string' ? row.users.split('\u0001') : utf8.decode(row.users).split('\0');
  if (users.length * 8 !== row.times.byteLength) return undefined;
  return { users, times: unpackTimes(row.times, base) };
}

/** Unpacks funnelStepEventsNumbered's row: the unnumbered users' events, then the numbered. */
export function unpackNumbered(row: PackedNumberedEvents | undefined, base: number): StepEvents[] {
  const events: StepEvents[] = [];
  if (row?.users != null && row.times != null) {
    events.push({ users: utf8.decode(row.users).split('\0'), times: unpackTimes(row.times, base) });
  }
  if (row?.numbers != null && row.numbered_times != null) {
    events.push({
      users: unpackNumbers(row.numbers),
      times: unpackTimes(row.numbered_times, base),
    });
  }
  return events;
}

/** A sealed hour's events, unpacked. */
export function unpackSealed({ users, times, offset }: SealedHour): StepEvents {
  return { users: int32s(users), times: int32s(times), offset };
}
