/**
 * What PostgreSQL can store, checked before it is asked to. JSON and JavaScript allow values
 * the database refuses (a NUL in a string, half a surrogate pair, a time zone offset of +20:00,
 * the year 0, an integer past bigint); the API refuses them at the edge (422 naming the field)
 * and the pipeline dead-letters them as `invalid` when another producer's message carries them,
 * instead of a statement failing deep inside a batch. The API and the worker share these
 * predicates, so both draw the line in the same place. Pure: no I/O. Checked against a real
 * server in test/domain/postgres-limits.test.ts.
 */

/**
 * The times Herald takes: RFC 3339 date-times (`T`, `t` or a space between date and time, `Z`
 * or a `±hh:mm` offset) narrowed to what PostgreSQL's timestamptz and JavaScript's Date.parse
 * both read:
 * - the year 0001–9999 (RFC 3339 has four digits; PostgreSQL has no year 0000);
 * - a UTC offset within ±15:59 (PostgreSQL: "time zone displacement out of range" past it);
 * - seconds 00–59 (Date.parse reads no leap second; PostgreSQL refuses `:60.5`);
 * - at most 9 fractional digits (PostgreSQL refuses a date-time longer than its buffer).
 * A JSON Schema `pattern`, so that the OpenAPI document tells clients the same rule; the
 * calendar (30 February) is left to `format: date-time`.
 */
export const TIMESTAMP_PATTERN = timestampPattern(
  '(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])',
);

/**
 * TIMESTAMP_PATTERN for the years 0002–9998: for a time something is computed from (an
 * analytics range, widened to whole days and read up to 31 days past its end), so that what
 * is computed stays within the years PostgreSQL and ISO 8601 text share.
 */
export const RANGE_TIMESTAMP_PATTERN = timestampPattern(
  '(?:[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8]|0[1-9][0-9]{2}|00[1-9][0-9]|000[2-9])',
);

function timestampPattern(year: string): string {
  return (
    `^${year}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])` +
    '[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:[Zz]|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])$'
  );
}

const TIMESTAMP_REGEX = new RegExp(TIMESTAMP_PATTERN);

/** The rule above in words, for error messages and the OpenAPI document. */
export const TIMESTAMP_RULE =
  'an RFC 3339 date-time with a UTC offset (Z or ±hh:mm within ±15:59), a year from 0001 to ' +
  '9999, seconds 00–59 and at most 9 fractional digits';

/** RANGE_TIMESTAMP_PATTERN in words. */
export const RANGE_TIMESTAMP_RULE = TIMESTAMP_RULE.replace('0001 to 9999', '0002 to 9998');

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/**
 * Why `text` is not a time PostgreSQL (and the pipeline) can store, or undefined when it is.
 *
 * @example
 * timestampProblem('2024-01-01T12:00:00+15:59'); // undefined
 * timestampProblem('2024-01-01T12:00:00+20:00'); // 'the UTC offset must be within ±15:59'
 */
export function timestampProblem(text: string): string | undefined {
  if (TIMESTAMP_REGEX.test(text)) {
    const year = Number(text.slice(0, 4));
    const month = Number(text.slice(5, 7));
    const day = Number(text.slice(8, 10));
    return day <= daysIn(year, month) ? undefined : `${text.slice(0, 10)} is not a calendar date`;
  }
  // Not in the accepted form: say which limit it passes, when it is one of them.
  const parts =
    /^([+-]?\d+)-\d\d-\d\d[Tt ]\d\d:\d\d:(\d\d)(?:\.(\d+))?(?:[Zz]|[+-](\d\d):?(\d\d)?)?$/.exec(
      text,
    );
  if (parts === null) return `must be ${TIMESTAMP_RULE}`;
  const [, year = '', seconds = '', fraction, offsetHours] = parts;
  if (!/^\d{4}$/.test(year) || year === '0000') return 'the year must be from 0001 to 9999';
  if (Number(seconds) > 59) return 'seconds must be 00–59 (no leap second)';
  if (fraction !== undefined && fraction.length > 9) return 'at most 9 fractional digits';
  if (offsetHours !== undefined && Number(offsetHours) > 15) {
    return 'the UTC offset must be within ±15:59';
  }
  return `must be ${TIMESTAMP_RULE}`;
}

/** Whether `text` is a time PostgreSQL can store (see timestampProblem for why not). */
export function storableTimestamp(text: string): boolean {
  return timestampProblem(text) === undefined;
}

export type TimestampCheck =
  | { readonly ok: true /** Milliseconds since the epoch (UTC). */; readonly epochMs: number }
  | { readonly ok: false; readonly reason: string };

// The parts of a time TIMESTAMP_PATTERN accepted.
const ACCEPTED_PARTS =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Whether `text` is a time Herald takes (the rule above), and the instant it names.
 *
 * @example
 * checkTimestamp('2024-01-01T12:00:00Z');      // { ok: true, epochMs: 1704110400000 }
 * checkTimestamp('2024-01-01T12:00:00+20:00'); // { ok: false, reason: 'the UTC offset must be within ±15:59' }
 */
export function checkTimestamp(text: string): TimestampCheck {
  const reason = timestampProblem(text);
  const m = reason === undefined ? ACCEPTED_PARTS.exec(text) : null;
  if (m === null) return { ok: false, reason: reason ?? `must be ${TIMESTAMP_RULE}` };
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetMinutes =
    m[8] === undefined ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
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

export const BIGINT_MIN = -(2n ** 63n);
export const BIGINT_MAX = 2n ** 63n - 1n;

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

/** The largest PostgreSQL `integer` (int4): counts, limits and offsets fit it. */
export const POSTGRES_INTEGER_MAX = 2_147_483_647;
