/**
 * What the client subcommands (produce, load-test, monitor, dlq, events) share: option parsing
 * with usage errors, the API's address, and JSON over HTTP with problem+json errors surfaced.
 */
import { parseArgs as parseNodeArgs } from 'node:util';

/** Exit codes, as for the server commands: 0 done, 1 failed while running, 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad usage: printed with the command's help, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A request the API refused or could not answer: exit 1. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, message: string, body: unknown) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Where the command writes; tests and the monitor pass their own. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

/** One client subcommand: `herald <name> ...`. */
export interface ClientCommand {
  name: string;
  summary: string;
  /** The full `--help` text. */
  help: string;
  run(argv: string[], io: Io): Promise<number>;
}

type OptionSpec = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
>;

/** `--url` and `--api-key` are common to every client command. */
export const URL_OPTION = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
} as const satisfies OptionSpec;

export const URL_HELP = `  --url URL            the Herald API (default $HERALD_URL, else http://127.0.0.1:$PORT, PORT 8000)
  --api-key KEY        API key when the API requires one (default $HERALD_API_KEY)`;

/** Headers every request of a command sends: the API key, when there is one. */
let commonHeaders: Record<string, string> = {};

export function authHeaders(): Record<string, string> {
  return commonHeaders;
}

/**
 * Strict option parsing: an unknown option or a missing value is a UsageError.
 *
 * @example
 * const { values } = parseOptions(argv, { count: { type: 'string' } });
 */
export function parseOptions<T extends OptionSpec>(argv: string[], options: T) {
  try {
    return parseNodeArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * A command's options (`--url`, `--api-key` and `--help` are every command's), parsed as
 * parseOptions does; undefined when `--help` was asked for, which is then printed.
 *
 * @example
 * const parsed = parseCommand(argv, io, help, { json: { type: 'boolean' } });
 * if (parsed === undefined) return EXIT_OK;
 */
export function parseCommand<T extends OptionSpec>(
  argv: string[],
  io: Io,
  help: string,
  options: T,
) {
  const parsed = parseOptions(argv, { ...URL_OPTION, ...options });
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout.write(help);
    return undefined;
  }
  return parsed;
}

/**
 * The API's base URL from `--url`, $HERALD_URL or $PORT; also takes `--api-key` (or
 * $HERALD_API_KEY) for the requests that follow.
 */
export function baseUrl(
  flag: string | undefined,
  env: Io['env'],
  apiKey: string | undefined = undefined,
): string {
  const key = apiKey ?? env.HERALD_API_KEY;
  commonHeaders = key === undefined || key === '' ? {} : { authorization: `Bearer ${key}` };
  // An empty variable counts as unset.
  const url = flag ?? (env.HERALD_URL || `http://127.0.0.1:${env.PORT || '8000'}`);
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url: not an http(s) URL: "${url}"`);
  return url.replace(/\/+$/, '');
}

/** A whole number in [min, max], or the default when the flag is absent. */
export function intOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim()))
    throw new UsageError(`--${name}: expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new UsageError(`--${name}: must be between ${min} and ${max}`);
  return value;
}

/** A non-negative number (rates may be fractional), or the default. */
export function numberOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`--${name}: expected a number ≥ 0, got "${raw}"`);
  }
  return value;
}

export function choiceOption<T extends string>(
  name: string,
  raw: string | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name}: must be one of ${choices.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/**
 * A point in time for --since/--until: an ISO 8601 date-time, or a duration ago such as
 * `15m`, `2h`, `7d`, `30s`.
 */
export function timeOption(name: string, raw: string | undefined, now = Date.now()) {
  if (raw === undefined) return undefined;
  const ago = /^(\d+)(s|m|h|d)$/.exec(raw.trim());
  if (ago) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[ago[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(ago[1]) * unit).toISOString();
  }
  const at = Date.parse(raw);
  if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    throw new UsageError(
      `--${name}: expected an ISO 8601 date-time or a duration like 15m, 2h, 7d`,
    );
  }
  return new Date(at).toISOString();
}

/** JSON over HTTP; a 4xx/5xx becomes an ApiError carrying the problem's detail. */
export async function requestJson<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<{ status: number; body: T }> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...commonHeaders,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body === undefined ? null : JSON.stringify(init.body),
      signal: init.signal ?? null,
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new ApiError(0, `cannot reach ${url}: ${cause?.code ?? cause?.message ?? error}`, null);
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    // not JSON: keep the text for the message
  }
  if (!response.ok) {
    const problem = body as { title?: string; detail?: string };
    const why = problem.detail ?? problem.title ?? String(text).slice(0, 200);
    throw new ApiError(response.status, `${response.status} from ${url}: ${why}`, body);
  }
  return { status: response.status, body: body as T };
}

/** Runs a command, turning usage and API errors into messages and exit codes. */
export async function runClientCommand(
  command: ClientCommand,
  argv: string[],
  io: Io,
): Promise<number> {
  try {
    return await command.run(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`herald ${command.name}: ${error.message}\n\n${command.help}`);
      return EXIT_USAGE;
    }
    if (error instanceof ApiError) {
      io.stderr.write(`herald ${command.name}: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    throw error;
  }
}

/**
 * The usage error of a command run without one of its `actions`, or with another word:
 * `missing action: list, show or purge`, `unknown action "lsit"`.
 */
export function unknownAction(action: string | undefined, actions: readonly string[]): UsageError {
  if (action !== undefined) return new UsageError(`unknown action "${action}"`);
  const listed =
    actions.length < 2
      ? actions.join('')
      : `${actions.slice(0, -1).join(', ')} or ${actions.at(-1)}`;
  return new UsageError(`missing action: ${listed}`);
}

/**
 * Runs `work` of a command that needs an admin key: a 401 or 403 is printed with what the
 * command needs (`needs`, e.g. "Key administration needs a key with the admin scope") and
 * where a key goes, and exits 1. Other refusals are answered as every command's.
 */
export async function needingAdminKey(
  io: Io,
  command: string,
  needs: string,
  work: () => Promise<number>,
): Promise<number> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      io.stderr.write(
        `herald ${command}: ${error.message}\n${needs} (--api-key or $HERALD_API_KEY).\n`,
      );
      return EXIT_FAILURE;
    }
    throw error;
  }
}

/** Left-aligned columns for terminal tables. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
