/**
 * What PostgreSQL can store, as pure predicates: the API refuses what fails them (422 naming
 * the field) and the workers never meet it, instead of the database refusing it deep inside
 * a batch. Everything here was checked against a real server (test/domain/postgres-limits).
 */

/** Text PostgreSQL cannot store: NUL (not in text or jsonb) or an unpaired UTF-16 surrogate. */
export function storableText(text: string): boolean {
  return !text.includes('\u0000') && text.isWellFormed();
}

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

/** The largest PostgreSQL `integer` (int4): counts, limits and offsets fit it. */
export const POSTGRES_INTEGER_MAX = 2_147_483_647;
