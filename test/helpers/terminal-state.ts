/**
 * The terminal-state property, end to end: generated events through every ingest route — any
 * code point (astral characters and emoji in every string), escaped lone surrogates, NUL, long
 * strings, extreme numbers written as JSON text, times at and past every limit, odd formulas,
 * batches mixing good and bad items — each accepted event followed by a canary with the same
 * ordering key. Then: every 202 reaches `processed` or `dead_lettered`, never after its canary,
 * and every canary is processed, within a bound; no answer is a 5xx.
 *
 * Used by test/e2e/terminal-state.test.ts (a short run on each database) and
 * bench/scenarios/terminal-state.ts (the long run, ≥ 10,000 cases).
 */
import fc from 'fast-check';
import type { SqlExecutor } from '../../src/ports/database.ts';

/** A JSON fragment written as it is (numbers JavaScript would round or turn into Infinity). */
class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/**
 * JSON text of `value`, RawJson fragments verbatim. JSON.stringify writes a lone surrogate as
 * an escape (`"\ud800"`) and NUL as `\u0000`, which is how a client's JSON carries them.
 */
export function jsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const members = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What PostgreSQL cannot store in text: the API must refuse these with 422. */
const UNSTORABLE = ['\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\udab6', '\ud83d'];
/** Storable, but known to trip up encoders, escapers, collations and log lines. */
const AWKWARD = [
  '😀',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u2028',
  '\u2029',
  '\u202e',
  '\ufeff',
  '\uffff',
  'e\u0301',
  '"',
  '\\',
  "'",
  '\n',
  '\t',
];

/** One storable character: any code point, a grapheme cluster, or an awkward one. */
const storableChar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...AWKWARD) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
);

/** Text the store can hold: any code point, long runs of wide characters past the limits. */
const storableText = (maxLength = 40) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.string({ unit: storableChar, minLength: 1, maxLength }) },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('x', '😀', 'é', '\u2028'), fc.integer({ min: 100, max: 3000 }))
        .map(([unit, n]) => unit.repeat(n)),
    },
  );

/** Mostly storable text; now and then with NUL or a lone surrogate somewhere in it. */
const anyText = (maxLength = 40) =>
  fc.oneof(
    { weight: 12, arbitrary: storableText(maxLength) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(storableText(maxLength), fc.constantFrom(...UNSTORABLE), fc.nat())
        .map(([text, bad, at]) => {
          const cut = at % (text.length + 1);
          return text.slice(0, cut) + bad + text.slice(cut);
        }),
    },
  );

/** Numbers as JSON text: past double range, past 2^53, tiny, negative zero, exponents. */
const extremeNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((n) => new RawJson(String(n))),
  fc.constantFrom(
    new RawJson('1e400'),
    new RawJson('-1e400'),
    new RawJson('1e-400'),
    new RawJson('-0'),
    new RawJson('0.1E+2'),
    new RawJson('9007199254740993'),
    new RawJson('123456789012345678901234567890.123456789'),
    1.7976931348623157e308,
    5e-324,
  ),
);

const pad = (n: number, width: number) => String(Math.abs(n)).padStart(width, '0');

/**
 * RFC 3339 date-times around every limit: UTC offsets up to ±23:59 (PostgreSQL takes ±15:59),
 * years 0000–9999 (timestamptz starts at 4713 BC; year 0 is not a year), leap seconds,
 * nanoseconds, lower-case separators, impossible days; plus strings that only look like times.
 */
const anyTimestamp: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        year: fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 1900, max: 2030 }) },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 9999 }) },
          { weight: 1, arbitrary: fc.constantFrom(0, 1, 1970, 9999) },
        ),
        month: fc.integer({ min: 1, max: 12 }),
        day: fc.oneof(
          { weight: 8, arbitrary: fc.integer({ min: 1, max: 28 }) },
          { weight: 1, arbitrary: fc.constantFrom(29, 30, 31) },
        ),
        hour: fc.integer({ min: 0, max: 23 }),
        minute: fc.integer({ min: 0, max: 59 }),
        second: fc.oneof(
          { weight: 12, arbitrary: fc.integer({ min: 0, max: 59 }) },
          { weight: 1, arbitrary: fc.constant(60) },
        ),
        fraction: fc.oneof(
          fc.constant(''),
          fc.integer({ min: 1, max: 9 }).map((n) => `.${'123456789'.slice(0, n)}`),
        ),
        t: fc.oneof(
          { weight: 8, arbitrary: fc.constant('T') },
          { weight: 1, arbitrary: fc.constant('t') },
        ),
        offset: fc.oneof(
          fc.constantFrom('Z', '+00:00', '-00:00', '+15:59', '-15:59', '+16:00', '+20:00', 'z'),
          fc
            .tuple(
              fc.constantFrom('+', '-'),
              fc.oneof(
                { weight: 4, arbitrary: fc.integer({ min: 0, max: 15 }) },
                { weight: 1, arbitrary: fc.integer({ min: 16, max: 23 }) },
              ),
              fc.integer({ min: 0, max: 59 }),
            )
            .map(([sign, h, m]) => `${sign}${pad(h, 2)}:${pad(m, 2)}`),
        ),
      })
      .map(
        (p) =>
          `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}${p.t}${pad(p.hour, 2)}:` +
          `${pad(p.minute, 2)}:${pad(p.second, 2)}${p.fraction}${p.offset}`,
      ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '2024-01-01T12:00:00+20:00',
      '0000-01-01T00:00:00Z',
      '0001-01-01T00:00:00+15:59',
      '9999-12-31T23:59:59-15:59',
      '2024-02-30T00:00:00Z',
      '2024-01-01',
      '2024-01-01 12:00:00Z',
      '+12024-01-01T00:00:00Z',
      '',
      1704110400,
    ),
  },
);

/** Formulas: plausible, absurd (huge counts, deep nesting) and not formulas at all. */
const anyFormula: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'H2O',
      'C6H12O6',
      'CuSO4·5H2O',
      'Ca(OH)2',
      '[Cu(NH3)4]SO4',
      'C😀',
      '(H2O)1000000000',
      'H99999999999999999999',
      `${'('.repeat(60)}H${')2'.repeat(60)}`,
      'C1e5',
      'H-1',
      'Og',
      'Xx2',
      ' ',
      'H2O'.repeat(70),
    ),
  },
  {
    weight: 3,
    arbitrary: fc.string({
      unit: fc.constantFrom(
        'C',
        'H',
        'O',
        'N',
        'Cl',
        'Na',
        '(',
        ')',
        '[',
        ']',
        '·',
        '.',
        '2',
        '9',
        '0',
      ),
      minLength: 1,
      maxLength: 30,
    }),
  },
  { weight: 2, arbitrary: anyText(20) },
  { weight: 1, arbitrary: extremeNumber },
);

/** Free-form metadata/properties: any keys, any values, nested a little. */
const anyJsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    extremeNumber,
    anyText(30),
    anyTimestamp,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(anyText(12), tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** A field that is usually there and well typed, sometimes missing or of another type. */
const sometimes = <T>(value: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 20, arbitrary: value }, { weight: 1, arbitrary: anyJsonValue });

/** An event type: mostly short and plain-ish, sometimes anything. */
const typeText = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: storableChar, minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: anyText(20) },
);

/** A timestamp half the time: an absent one means the time of acceptance. */
const maybeTimestamp = fc.option(anyTimestamp, { nil: undefined });

const analyticsItem = fc.record(
  {
    user_id: sometimes(anyText()),
    event_type: sometimes(typeText),
    timestamp: maybeTimestamp,
    metadata: fc.dictionary(anyText(12), anyJsonValue, { maxKeys: 4 }),
  },
  { requiredKeys: ['user_id', 'event_type'] },
);

const chemicalItem = fc.record(
  {
    molecule_id: sometimes(anyText()),
    researcher: sometimes(anyText()),
    event_type: typeText,
    data: fc.record(
      {
        formula: anyFormula,
        weight: fc.oneof(
          { weight: 4, arbitrary: fc.double({ min: 1e-6, max: 1e6, noNaN: true }) },
          { weight: 1, arbitrary: extremeNumber },
        ),
        smiles: anyText(60),
        note: anyJsonValue,
      },
      { requiredKeys: ['formula'] },
    ),
    timestamp: maybeTimestamp,
  },
  { requiredKeys: ['molecule_id', 'researcher', 'data'] },
);

const genericItem = fc.record(
  {
    user_id: sometimes(anyText()),
    event_type: sometimes(typeText),
    properties: fc.dictionary(anyText(12), anyJsonValue, { maxKeys: 4 }),
    timestamp: maybeTimestamp,
  },
  { requiredKeys: ['user_id', 'event_type'] },
);

export type Route = 'analytics' | 'chemical' | 'events';

const ROUTE_PATHS: Record<Route, string> = {
  analytics: '/api/v1/events/analytics',
  chemical: '/api/v1/events/chemical',
  events: '/events',
};

const ITEMS: Record<Route, fc.Arbitrary<Record<string, unknown>>> = {
  analytics: analyticsItem,
  chemical: chemicalItem,
  events: genericItem,
};

/** Ids: none, ordinary, at and past the 200-character limit, hostile. */
const anyIdSuffix = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:@/+=-]{1,40}$/) },
  { weight: 2, arbitrary: fc.integer({ min: 150, max: 230 }).map((n) => 'i'.repeat(n)) },
  { weight: 1, arbitrary: anyText(20) },
);

export interface GeneratedCase {
  kind: 'single' | 'batch';
  route: Route | 'batch';
  format: 'json' | 'array' | 'object' | 'ndjson';
  items: { route: Route; body: Record<string, unknown>; id: string | undefined }[];
  idempotencyKey: string | undefined;
}

const singleCase: fc.Arbitrary<GeneratedCase> = fc
  .constantFrom<Route>('analytics', 'chemical', 'events')
  .chain((route) =>
    fc.record({
      kind: fc.constant('single' as const),
      route: fc.constant(route),
      format: fc.constant('json' as const),
      items: fc.tuple(ITEMS[route], anyIdSuffix).map(([body, id]) => [{ route, body, id }]),
      idempotencyKey: fc
        .option(anyIdSuffix, { nil: undefined, freq: 3 })
        .map((k) => k ?? undefined),
    }),
  );

const batchItem = fc
  .constantFrom<Route>('analytics', 'chemical', 'events')
  .chain((route) => fc.record({ route: fc.constant(route), body: ITEMS[route], id: anyIdSuffix }));

const batchCase: fc.Arbitrary<GeneratedCase> = fc.record({
  kind: fc.constant('batch' as const),
  route: fc.constant('batch' as const),
  format: fc.constantFrom('array' as const, 'object' as const, 'ndjson' as const),
  items: fc.array(batchItem, { minLength: 1, maxLength: 12 }),
  idempotencyKey: fc.constant(undefined),
});

/** One request's worth of events: a single event on one of the three routes, or a batch. */
export const anyCase: fc.Arbitrary<GeneratedCase> = fc.oneof(
  { weight: 3, arbitrary: singleCase },
  { weight: 1, arbitrary: batchCase },
);

/** The ordering key of an item as Herald derives it (src/domain/events.ts routeEvent). */
function keyField(route: Route): 'user_id' | 'molecule_id' {
  return route === 'chemical' ? 'molecule_id' : 'user_id';
}

/** A request as sent, built from a case; ids and keys get the case's own prefix. */
export interface BuiltRequest {
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Per item: its route and ordering key as sent (undefined when not a string). */
  items: { route: Route; key: unknown; body: Record<string, unknown> }[];
}

/**
 * The request for `generated`, its keys and ids prefixed with `prefix` so that cases never share
 * a key or an id (each case checks its own canaries). Strings keep their hostile content.
 */
export function buildRequest(generated: GeneratedCase, prefix: string): BuiltRequest {
  const items = generated.items.map(({ route, body, id }) => {
    const copy: Record<string, unknown> = { ...body };
    const field = keyField(route);
    if (typeof copy[field] === 'string') copy[field] = `${prefix}${copy[field]}`;
    if (id !== undefined) copy.id = `${prefix}${id}`;
    if (generated.kind === 'batch' && route !== inferredRoute(copy)) copy.topic = route;
    return { route, key: copy[field], body: copy };
  });
  const headers: Record<string, string> = {};
  if (generated.idempotencyKey !== undefined) {
    // A header cannot carry every character; what fetch refuses to send is sent percent-encoded.
    const key = `${prefix}${generated.idempotencyKey}`;
    headers['idempotency-key'] = /^[\u0020-\u007e]*$/.test(key) ? key : percentEncoded(key);
  }
  if (generated.kind === 'single') {
    const [item] = items;
    return {
      method: 'POST',
      path: ROUTE_PATHS[generated.route as Route],
      headers: { ...headers, 'content-type': 'application/json' },
      body: jsonText(item?.body ?? {}),
      items,
    };
  }
  const bodies = items.map((i) => i.body);
  const body =
    generated.format === 'ndjson'
      ? bodies.map(jsonText).join('\n')
      : generated.format === 'object'
        ? jsonText({ events: bodies })
        : jsonText(bodies);
  return {
    method: 'POST',
    path: '/api/v1/events/batch',
    headers: {
      ...headers,
      'content-type': generated.format === 'ndjson' ? 'application/x-ndjson' : 'application/json',
    },
    body,
    items,
  };
}

/** A header-safe spelling of any text (its UTF-8 bytes, lone surrogates as U+FFFD). */
function percentEncoded(text: string): string {
  return [...new TextEncoder().encode(text.toWellFormed())]
    .map((byte) =>
      byte >= 0x21 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

function inferredRoute(item: Record<string, unknown>): Route {
  if ('molecule_id' in item) return 'chemical';
  if ('properties' in item) return 'events';
  return 'analytics';
}

/** A valid event with the given ordering key: what must be processed after the case's event. */
function canaryBody(route: Route, key: string, id: string): Record<string, unknown> {
  switch (route) {
    case 'chemical':
      return { id, molecule_id: key, researcher: 'canary', data: { formula: 'H2O' } };
    case 'analytics':
      return { id, user_id: key, event_type: 'canary', metadata: { canary: true } };
    case 'events':
      return { id, user_id: key, event_type: 'canary', properties: { canary: true } };
  }
}

export interface Answer {
  status: number;
  contentType: string;
  body: unknown;
}

async function send(url: string, request: Omit<BuiltRequest, 'items'>): Promise<Answer> {
  const response = await fetch(`${url}${request.path}`, {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // kept as text for the report
  }
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body };
}

/** One accepted event and the canary that followed it with the same key. */
export interface Pair {
  caseIndex: number;
  eventId: string;
  canaryId: string;
}

export interface TerminalStateReport {
  cases: number;
  requests: number;
  accepted: number;
  canaries: number;
  /** Statuses answered to the generated requests. */
  statuses: Record<string, number>;
  /** The fields the API's 4xx answers named, counted (what the generated requests got wrong). */
  refusedFields: Record<string, number>;
  /** Dead-letter reasons of the generated events. */
  reasons: Record<string, number>;
  /** Property violations, each described with the request that caused it. */
  failures: string[];
  seconds: number;
}

export interface RunOptions {
  /** The API's base URL. */
  url: string;
  /** Herald's database (the platform's), read in one snapshot to judge order. */
  db: SqlExecutor;
  cases: GeneratedCase[];
  /** A unique prefix for this run's keys and ids. */
  runId: string;
  /** How long every canary may take to be processed, ms. */
  boundMs: number;
  /** Cases in flight at once (each sends its request, then its canaries). */
  concurrency?: number;
  /**
   * Messages not yet committed, per consumer group (the agents' and notifications' groups
   * too): each must reach 0 within the bound, or an event wedged a partition of that group.
   */
  lag?: () => Promise<Record<string, number>>;
}

function describe(request: BuiltRequest): string {
  const body = request.body.length > 600 ? `${request.body.slice(0, 600)}…` : request.body;
  return `${request.method} ${request.path} ${JSON.stringify(request.headers)} ${body}`;
}

/**
 * Sends every case and its canaries, then waits for the canaries and checks the property.
 * Returns the violations instead of throwing, so a long run reports all of them.
 */
export async function runTerminalState(options: RunOptions): Promise<TerminalStateReport> {
  const started = performance.now();
  const failures: string[] = [];
  const statuses: Record<string, number> = {};
  const refusedFields: Record<string, number> = {};
  const countRefusals = (body: unknown) => {
    const problem = body as {
      errors?: { field?: string }[];
      results?: { errors?: { field?: string }[] }[];
    };
    const errors = [
      ...(problem.errors ?? []),
      ...(problem.results ?? []).flatMap((r) => r.errors ?? []),
    ];
    for (const { field } of errors) {
      const name = (field ?? '?').replace(/^\d+\./, '').replace(/\.\d+/g, '[]');
      refusedFields[name] = (refusedFields[name] ?? 0) + 1;
    }
    if (errors.length === 0) refusedFields['(no field)'] = (refusedFields['(no field)'] ?? 0) + 1;
  };
  const pairs: Pair[] = [];
  const requests: BuiltRequest[] = [];
  let requestCount = 0;
  let next = 0;

  const runCase = async (index: number) => {
    const generated = options.cases[index] as GeneratedCase;
    const prefix = `${options.runId}-${index}-`;
    const request = buildRequest(generated, prefix);
    requests[index] = request;
    let answer: Answer;
    try {
      answer = await send(options.url, request);
      requestCount++;
    } catch (error) {
      failures.push(`no answer (${String(error)}) ← ${describe(request)}`);
      return;
    }
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    if (answer.status >= 500) {
      failures.push(
        `${answer.status} ${JSON.stringify(answer.body).slice(0, 300)} ← ${describe(request)}`,
      );
      return;
    }
    if (answer.status !== 202) {
      countRefusals(answer.body);
      if (!answer.contentType.startsWith('application/problem+json')) {
        failures.push(`${answer.status} answered as ${answer.contentType} ← ${describe(request)}`);
      }
      return;
    }
    const body = answer.body as {
      event_id?: string;
      duplicate?: boolean;
      results?: { status: string; event_id?: string; duplicate?: boolean }[];
    };
    const accepted =
      generated.kind === 'single'
        ? [{ item: 0, id: body.event_id, duplicate: body.duplicate }]
        : (body.results ?? []).map((r, item) => ({
            item,
            id: r.status === 'accepted' ? r.event_id : undefined,
            duplicate: r.duplicate,
          }));
    // Each key's canary goes after the last of the case's events with that key.
    const lastOfKey = new Map<string, { route: Route; ids: string[] }>();
    if (generated.kind === 'batch')
      countRefusals({ results: (body.results ?? []).filter((r) => r.status !== 'accepted') });
    for (const { item, id, duplicate } of accepted) {
      const sent = request.items[item];
      if (id === undefined || duplicate === true || sent === undefined) continue;
      if (typeof sent.key !== 'string') {
        failures.push(`accepted an event whose key is not a string ← ${describe(request)}`);
        continue;
      }
      const entry = lastOfKey.get(sent.key) ?? { route: sent.route, ids: [] };
      entry.ids.push(id);
      lastOfKey.set(sent.key, entry);
    }
    let canaryNumber = 0;
    for (const [key, { route, ids }] of lastOfKey) {
      const canaryId = `${prefix}canary-${canaryNumber++}`;
      const canary = {
        method: 'POST' as const,
        path: ROUTE_PATHS[route],
        headers: { 'content-type': 'application/json' },
        body: jsonText(canaryBody(route, key, canaryId)),
      };
      const answered = await send(options.url, canary).catch((error: unknown) => error);
      requestCount++;
      if (
        !(typeof answered === 'object' && answered !== null && 'status' in answered) ||
        answered.status !== 202
      ) {
        const what = answered instanceof Error ? String(answered) : JSON.stringify(answered);
        failures.push(`canary refused: ${what.slice(0, 300)} ← ${canary.body.slice(0, 300)}`);
        continue;
      }
      for (const eventId of ids) pairs.push({ caseIndex: index, eventId, canaryId });
    }
  };

  await Promise.all(
    Array.from({ length: options.concurrency ?? 8 }, async () => {
      for (let i = next++; i < options.cases.length; i = next++) await runCase(i);
    }),
  );

  // Watch in snapshots: the moment a canary is seen processed, its events must already be
  // terminal in the same snapshot — an event that got there later was overtaken by its canary.
  const canaries = new Map<string, Pair[]>();
  for (const pair of pairs) {
    const list = canaries.get(pair.canaryId) ?? [];
    list.push(pair);
    canaries.set(pair.canaryId, list);
  }
  const ids = [...new Set(pairs.flatMap((p) => [p.eventId, p.canaryId]))];
  const waiting = new Set(canaries.keys());
  const deadline = Date.now() + options.boundMs;
  let last: Map<string, string> = new Map();
  while (waiting.size > 0 && Date.now() < deadline) {
    last = await terminalStates(options.db, ids);
    for (const canaryId of [...waiting]) {
      if (last.get(canaryId) !== 'processed') continue;
      waiting.delete(canaryId);
      for (const pair of canaries.get(canaryId) ?? []) {
        if (last.get(pair.eventId) === undefined) {
          failures.push(
            `event ${pair.eventId} was not terminal when its canary was processed ← ` +
              describe(requests[pair.caseIndex] as BuiltRequest),
          );
        }
      }
    }
    if (waiting.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const canaryId of waiting) {
    const pair = canaries.get(canaryId)?.[0];
    failures.push(
      `canary ${canaryId} not processed within ${options.boundMs} ms (its event: ` +
        `${pair === undefined ? '?' : (last.get(pair.eventId) ?? 'not terminal')}) ← ` +
        (pair === undefined ? '' : describe(requests[pair.caseIndex] as BuiltRequest)),
    );
  }

  // The other consumer groups (agents, notifications) must get past every event as well.
  if (options.lag !== undefined) {
    let behind: Record<string, number> = await options.lag();
    while (Object.values(behind).some((n) => n > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      behind = await options.lag();
    }
    for (const [group, n] of Object.entries(behind)) {
      if (n > 0) failures.push(`group ${group} still ${n} behind after ${options.boundMs} ms`);
    }
  }

  // What the API says of each event: the status a client sees.
  const reasons: Record<string, number> = {};
  const eventIds = [...new Set(pairs.map((p) => p.eventId))];
  const caseOf = new Map(pairs.map((p) => [p.eventId, p.caseIndex]));
  let check = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = check++; i < eventIds.length; i = check++) {
        const id = eventIds[i] as string;
        const response = await fetch(`${options.url}/api/v1/events/${encodeURIComponent(id)}`);
        const record = (await response.json()) as {
          status?: string;
          failure?: { reason?: string } | null;
        };
        if (
          response.status !== 200 ||
          !['processed', 'dead_lettered'].includes(record.status ?? '')
        ) {
          failures.push(
            `event ${id} answered ${response.status} ${record.status ?? ''} ← ` +
              describe(requests[caseOf.get(id) ?? 0] as BuiltRequest),
          );
        }
        if (record.status === 'dead_lettered') {
          const reason = record.failure?.reason ?? '?';
          reasons[reason] = (reasons[reason] ?? 0) + 1;
        }
      }
    }),
  );

  return {
    cases: options.cases.length,
    requests: requestCount,
    accepted: eventIds.length,
    canaries: canaries.size,
    statuses,
    refusedFields,
    reasons,
    failures,
    seconds: Math.round((performance.now() - started) / 10) / 100,
  };
}

/** processed / dead_lettered per id, read in one statement (one snapshot). */
async function terminalStates(db: SqlExecutor, ids: string[]): Promise<Map<string, string>> {
  const rows = await db.query<{ event_id: string; state: string }>(
    `SELECT p.event_id, 'processed' AS state FROM processed_events p
       WHERE p.event_id IN (SELECT jsonb_array_elements_text($1::jsonb))
     UNION ALL
     SELECT f.event_id, 'dead_lettered' AS state FROM failed_events f
       WHERE f.status = 'dead' AND f.event_id IN (SELECT jsonb_array_elements_text($1::jsonb))
         AND NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.event_id = f.event_id)`,
    [JSON.stringify(ids)],
  );
  return new Map(rows.map((r) => [r.event_id, r.state]));
}
