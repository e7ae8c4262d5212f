/**
 * What PostgreSQL can store, checked before it is asked to. JSON and JavaScript allow values
 * the database refuses (a NUL in a string, half a surrogate pair, a time zone offset of +20:00,
 * the year 0, an integer past bigint); refused at the edge or in the pipeline, they are a clear
 * `invalid` instead of a statement failing deep inside the store. The API and the worker share
 * these predicates, so both draw the line in the same place. Pure: no I/O.
 */

/** The largest UTC offset timestamptz takes: ±15:59 (PostgreSQL's time zone displacement). */
export const MAX_UTC_OFFSET_MINUTES = 15 * 60 + 59;
/** Years a four-digit RFC 3339 time can name that PostgreSQL takes (it has no year 0). */
export const MIN_YEAR = 1;
export const MAX_YEAR = 9999;

export const BIGINT_MIN = -(2n ** 63n);
export const BIGINT_MAX = 2n ** 63n - 1n;

// RFC 3339 as the API's `date-time` format (ajv-formats) reads it: `T`, `t` or a space between
// date and time, fractions of any length, an offset `Z`, `±hh`, `±hhmm` or `±hh:mm` required.
const RFC_3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

export type TimestampCheck =
  | { readonly ok: true /** Milliseconds since the epoch (UTC). */; readonly epochMs: number }
  | { readonly ok: false; readonly reason: string };

const daysIn = (year: number, month: number): number =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : [4, 6, 9, 11].includes(month)
      ? 30
      : 31;

/**
 * Whether `text` is an RFC 3339 date-time with an offset that a PostgreSQL `timestamptz`
 * takes, and the instant it names. A leap second (`23:59:60`) is the next second, as
 * PostgreSQL reads it.
 *
 * @example
 * checkTimestamp('2024-01-01T12:00:00Z');      // { ok: true, epochMs: 1704110400000 }
 * checkTimestamp('2024-01-01T12:00:00+20:00'); // { ok: false, reason: 'UTC offset +20:00 is past ±15:59' }
 */
export function checkTimestamp(text: string): TimestampCheck {
  const m = RFC_3339.exec(text);
  if (m === null) {
    return { ok: false, reason: 'not an RFC 3339 date-time with a UTC offset' };
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < MIN_YEAR || year > MAX_YEAR) {
    return { ok: false, reason: `year ${m[1]} is outside ${MIN_YEAR}–${MAX_YEAR}` };
  }
  if (month < 1 || month > 12) return { ok: false, reason: `month ${m[2]} does not exist` };
  if (day < 1 || day > daysIn(year, month)) {
    return { ok: false, reason: `day ${m[3]} does not exist in ${m[1]}-${m[2]}` };
  }
  if (hour > 23 || minute > 59 || second > 60) {
    return { ok: false, reason: `time ${m[4]}:${m[5]}:${m[6]} does not exist` };
  }
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const hours = Number(m[10]);
    const minutes = Number(m[11] ?? 0);
    const offset = `${m[9]}${m[10]}:${m[11] ?? '00'}`;
    if (minutes > 59) return { ok: false, reason: `UTC offset ${offset} does not exist` };
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (hours * 60 + minutes);
    if (Math.abs(offsetMinutes) > MAX_UTC_OFFSET_MINUTES) {
      return { ok: false, reason: `UTC offset ${offset} is past ±15:59` };
    }
  }
  // setUTCFullYear, not Date.UTC, which takes the years 0–99 for 1900–1999.
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute - offsetMinutes, second, Math.floor(Number(m[7] ?? 0) * 1000));
  return { ok: true, epochMs: at.getTime() };
}

/**
 * Why PostgreSQL cannot store `text` (in `text` or `jsonb`), or undefined when it can: it holds
 * no NUL and no unpaired UTF-16 surrogate (which has no UTF-8 encoding).
 */
export function textRefusal(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains NUL (\\u0000)';
  if (!text.isWellFormed()) return 'contains an unpaired UTF-16 surrogate';
  return undefined;
}

export interface Unstorable {
  /** Where in the value: `data.formula`, `tags.3`, or `(value)` for the value itself. */
  readonly path: string;
  readonly reason: string;
}

/**
 * The first key, string or number in a JSON value that `jsonb` cannot hold as it is: text
 * with NUL or an unpaired surrogate, a number that is not finite (a `1e400` read back from
 * jsonb is Infinity in JavaScript, and JSON has no Infinity to write it back as; `numbers:
 * false` leaves numbers out). `path` prefixes the paths reported.
 *
 * @example
 * findUnstorable({ data: { formula: 'C\ud83d' } });
 * // { path: 'data.formula', reason: 'contains an unpaired UTF-16 surrogate' }
 */
export function findUnstorable(
  value: unknown,
  { path = '', numbers = true }: { path?: string; numbers?: boolean } = {},
): Unstorable | undefined {
  // Every event goes through here: the common answer (nothing) is found without a path per
  // node; paths are built only to name what was found.
  if (!holdsUnstorable(value, numbers)) return undefined;
  const stack: [unknown, string][] = [[value, path]];
  while (stack.length > 0) {
    const [node, at] = stack.pop() as [unknown, string];
    const here = at === '' ? '(value)' : at;
    if (typeof node === 'string') {
      const reason = textRefusal(node);
      if (reason !== undefined) return { path: here, reason };
    } else if (typeof node === 'number') {
      if (numbers && !Number.isFinite(node))
        return { path: here, reason: `is ${node}, not a finite number` };
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], join(at, String(i))]);
    } else if (typeof node === 'object' && node !== null) {
      const entries = Object.entries(node);
      for (const [key] of entries) {
        const reason = textRefusal(key);
        if (reason !== undefined) return { path: join(at, quoted(key)), reason: `key ${reason}` };
      }
      // Pushed last first, so that the first is looked at first.
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i] as [string, unknown];
        stack.push([child, join(at, key)]);
      }
    }
  }
  return undefined;
}

/** Whether any key, string or (with `numbers`) number in `value` is unstorable. */
function holdsUnstorable(value: unknown, numbers: boolean): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === 'string') {
      if (textRefusal(node) !== undefined) return true;
    } else if (typeof node === 'number') {
      if (numbers && !Number.isFinite(node)) return true;
    } else if (Array.isArray(node)) {
      for (const child of node) stack.push(child);
    } else if (typeof node === 'object' && node !== null) {
      // for…in with hasOwn visits what Object.entries does, without an array per object.
      for (const key in node) {
        if (!Object.hasOwn(node, key)) continue;
        if (textRefusal(key) !== undefined) return true;
        stack.push((node as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);

/**
 * Text as it can always be stored and read: NUL and unpaired surrogates written out as the
 * escapes `\u0000` and `\ud83d` (what they are, visible, instead of dropped), and cut to at
 * most `maxCodePoints` code points of the result, never between the halves of a pair nor
 * inside an escape (an ellipsis marks the cut).
 *
 * @example storableText('unexpected character \'\ud83d\'') // "unexpected character '\\ud83d'"
 */
export function storableText(text: string, maxCodePoints = Number.POSITIVE_INFINITY): string {
  let out = '';
  let count = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const piece =
      code === 0 || (code >= 0xd800 && code <= 0xdfff)
        ? `\\u${code.toString(16).padStart(4, '0')}`
        : char;
    const size = piece === char ? 1 : piece.length;
    if (count + size > maxCodePoints) return `${out}…`;
    out += piece;
    count += size;
  }
  return out;
}

/** `text` quoted for a message: whole code points, at most `max` of them, made storable. */
export function quoted(text: string, max = 40): string {
  return `"${storableText(text, max)}"`;
}

/** Whether an integer (a number, a bigint or decimal digits) fits a PostgreSQL bigint. */
export function fitsBigint(value: number | bigint | string): boolean {
  let n: bigint;
  try {
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) return false;
      n = BigInt(value);
    } else {
      n = typeof value === 'bigint' ? value : BigInt(value.trim() === '' ? 'x' : value);
    }
  } catch {
    return false;
  }
  return n >= BIGINT_MIN && n <= BIGINT_MAX;
}
