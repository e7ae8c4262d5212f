/**
 * Property-based request fuzzing derived from the OpenAPI document Herald serves at /docs/json.
 * For every operation that takes a body or parameters it builds requests that are valid by the
 * schema and requests that are not: wrong types, unknown fields, missing required fields, huge
 * strings, deep nesting, prototype-pollution keys (`__proto__`, `constructor.prototype`),
 * NUL characters and lone surrogates, invalid UTF-8, truncated and oversized bodies, wrong
 * content types, batches at and past the limit. Used by test/http/fuzz.test.ts (a short run in
 * CI) and bench/scenarios/fuzz.ts (≥ 100k requests).
 *
 * The property: every answer is a 2xx, or a 4xx `application/problem+json` whose `status`
 * matches — never a 5xx — the server keeps answering, and every answer is one the served
 * document lists, with its content type and body schema (openapi-responses.ts).
 */
import fc from 'fast-check';
import { type OpenApiDocument, uncheckedFetch } from './openapi-responses.ts';

type Schema = { [keyword: string]: unknown };

export interface Operation {
  method: string;
  /** OpenAPI path template, e.g. /api/v1/events/{id}. */
  path: string;
  parameters: { in: string; name: string; required: boolean; schema: Schema }[];
  /** Content types the body may have, with its schema; undefined when it takes none. */
  body: { contentTypes: string[]; schema: Schema } | undefined;
}

export interface FuzzLimits {
  maxBodyBytes: number;
  batchMaxEvents: number;
  maxJsonDepth: number;
}

export interface FuzzRequest {
  method: string;
  /** Path and query string. */
  target: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  /** What kind of input this is, for reports. */
  label: string;
}

/** The operations of an OpenAPI 3 document (parameters and request bodies inlined). */
export function operationsOf(document: Schema): Operation[] {
  const components = ((document.components as Schema | undefined)?.schemas ?? {}) as Schema;
  const resolve = (schema: unknown): Schema => {
    const ref = (schema as Schema | undefined)?.$ref;
    if (typeof ref === 'string') return resolve(components[ref.split('/').at(-1) ?? '']);
    return (schema ?? {}) as Schema;
  };
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries((document.paths ?? {}) as Schema)) {
    for (const [method, raw] of Object.entries(item as Schema)) {
      const op = raw as Schema;
      const parameters = ((op.parameters ?? []) as Schema[]).map((p) => ({
        in: String(p.in),
        name: String(p.name),
        required: p.required === true,
        schema: resolve(p.schema),
      }));
      const content = (op.requestBody as Schema | undefined)?.content as
        | Record<string, Schema>
        | undefined;
      const contentTypes = Object.keys(content ?? {});
      const body =
        content === undefined || contentTypes.length === 0
          ? undefined
          : { contentTypes, schema: resolve(content[contentTypes[0] ?? '']?.schema) };
      operations.push({ method: method.toUpperCase(), path, parameters, body });
    }
  }
  return operations;
}

/** Characters that have broken JSON stores before: NUL, lone surrogates, controls, RTL, emoji. */
const nastyChar = fc.constantFrom(
  '\u0000',
  '\ud800',
  '\udfff',
  '\u0001',
  '\u001f',
  '\u2028',
  '\u202e',
  '\ufeff',
  '\uffff',
  '😀',
  '"',
  '\\',
  '%',
  '/',
  '..',
  "'",
  ';',
  '$1',
  '{{',
);

/** Strings from plain to hostile. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  {
    weight: 2,
    arbitrary: fc.string({
      unit: fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), nastyChar),
      maxLength: 20,
    }),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'null',
      'undefined',
      'NaN',
      '-1',
      '1e309',
      '0x10',
      'true',
      '[]',
      '{}',
      '__proto__',
      'constructor',
      'prototype',
      "' OR 1=1 --",
      '../../etc/passwd',
      '%00',
      '%zz',
      // Past what PostgreSQL stores: valid-looking times and integers beyond its limits.
      '2024-01-01T12:00:00+20:00',
      '2024-01-01T12:00:00-16:00',
      '0000-01-01T00:00:00Z',
      '294277-01-01T00:00:00Z',
      '2016-12-31T23:59:60Z',
      '9999-12-31T23:59:59-15:59',
      '2024-01-01T12:00:00.1234567890Z',
      '99999999999999999999',
      '9223372036854775808',
      '-9223372036854775809',
      '2147483648',
      '1e400',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 201, max: 20_000 }).map((n) => 'x'.repeat(n)) },
);

/** Any JSON value, including the hostile strings above and big numbers. */
const anyJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -0, 0.1),
    nastyString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(nastyString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const ISO = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .date({
        min: new Date('1970-01-01T00:00:00Z'),
        max: new Date('2100-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString()),
  },
  // At the limits PostgreSQL sets (still valid): the first and last years, ±15:59, nanoseconds.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '0001-01-01T00:00:00+15:00',
      '0002-01-01T00:00:00Z',
      '9998-12-31T23:59:59-15:59',
      '9999-12-31T23:59:59-15:59',
      '2024-02-29T23:59:59.123456789+15:59',
      '2024-01-01 12:00:00-15:59',
    ),
  },
);

/** Values that satisfy `schema` (as far as a small deriver can tell). */
export function validFor(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  for (const combinator of ['oneOf', 'anyOf'] as const) {
    const options = schema[combinator];
    if (Array.isArray(options) && options.length > 0) {
      return fc.oneof(...options.map((o) => validFor(o as Schema, depth + 1)));
    }
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    return validFor(Object.assign({}, ...(schema.allOf as Schema[])), depth + 1);
  }
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const type = types.find((t) => t !== 'null') ?? types[0];
  const num = (key: string) =>
    typeof schema[key] === 'number' ? (schema[key] as number) : undefined;
  switch (type) {
    case 'string': {
      if (schema.format === 'date-time') return ISO;
      if (schema.format === 'date') return ISO.map((s) => s.slice(0, 10));
      if (schema.format === 'uuid') return fc.uuid();
      const maxLength = Math.min(num('maxLength') ?? 40, 200);
      const minLength = Math.min(num('minLength') ?? 0, maxLength);
      if (typeof schema.pattern === 'string') {
        try {
          return fc
            .stringMatching(new RegExp(schema.pattern))
            .filter((s) => s.length >= minLength && s.length <= maxLength);
        } catch {
          // a pattern fast-check cannot generate from: fall back to plain strings
        }
      }
      return fc.string({ minLength, maxLength });
    }
    case 'integer':
      return fc.integer({ min: num('minimum') ?? -1_000_000, max: num('maximum') ?? 1_000_000 });
    case 'number':
      return fc.double({
        noNaN: true,
        noDefaultInfinity: true,
        min: num('minimum') ?? -1e9,
        max: num('maximum') ?? 1e9,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const maxLength = Math.min(num('maxItems') ?? 4, 4);
      const minLength = Math.min(num('minItems') ?? 0, maxLength);
      const items = (schema.items ?? {}) as Schema;
      return fc.array(validFor(items, depth + 1), { minLength, maxLength });
    }
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = (Array.isArray(schema.required) ? schema.required : []) as string[];
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, validFor(s, depth + 1)])),
        { requiredKeys: required.filter((k) => k in properties) },
      );
      if (schema.additionalProperties === false) return record;
      return fc
        .tuple(record, fc.dictionary(fc.string({ maxLength: 10 }), anyJson, { maxKeys: 2 }))
        .map(([known, extra]) => ({ ...extra, ...known }));
    }
    default:
      return anyJson;
  }
}

/** Every path inside a JSON value, to aim a mutation at. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const found: (string | number)[][] = [prefix];
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      found.push(...paths(v, [...prefix, Array.isArray(value) ? Number(k) : k]));
    }
  }
  return found;
}

function setAt(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<
    string | number,
    unknown
  >;
  copy[head] = setAt(copy[head], rest, replacement);
  return copy;
}

function deleteAt(value: unknown, path: (string | number)[]): unknown {
  if (path.length === 0) return value;
  if (path.length === 1) {
    if (Array.isArray(value)) return value.filter((_, i) => i !== path[0]);
    const { [String(path[0])]: _gone, ...rest } = value as Record<string, unknown>;
    return rest;
  }
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  return setAt(value, [head], deleteAt((value as Record<string | number, unknown>)[head], rest));
}

/** A schema-valid value with one thing wrong with it. */
function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<{ value: unknown; label: string }> {
  return valid.chain((value) => {
    const targets = paths(value);
    const at = fc.constantFrom(...targets);
    return fc.oneof(
      fc.tuple(at, anyJson).map(([path, junk]) => ({
        value: setAt(value, path, junk),
        label: 'wrong type',
      })),
      fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), anyJson).map(([key, junk]) => ({
        value:
          typeof value === 'object' && value !== null && !Array.isArray(value)
            ? { ...value, [`x_${key}`]: junk }
            : value,
        label: 'unknown field',
      })),
      at.map((path) => ({ value: deleteAt(value, path), label: 'missing field' })),
      fc.tuple(at, fc.integer({ min: 1_000, max: 300_000 })).map(([path, n]) => ({
        value: setAt(value, path, 'é'.repeat(n)),
        label: 'huge string',
      })),
      fc.tuple(at, nastyString).map(([path, s]) => ({
        value: setAt(value, path, s),
        label: 'hostile string',
      })),
    );
  });
}

const enc = new TextEncoder();

function nested(depth: number, open: string, close: string, inner = '1'): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

/** Raw bodies whatever the schema: broken, deep, polluted, oversized, not UTF-8. */
function rawBodies(limits: FuzzLimits, validText: fc.Arbitrary<string>) {
  return fc.oneof(
    validText.chain((text) =>
      fc.nat({ max: Math.max(0, text.length - 1) }).map((cut) => ({
        body: enc.encode(text.slice(0, cut)),
        label: 'truncated JSON',
      })),
    ),
    validText.chain((text) =>
      fc
        .tuple(
          fc.nat({ max: text.length }),
          fc.constantFrom(
            [0xff],
            [0xc3, 0x28],
            [0xe2, 0x82],
            [0xed, 0xa0, 0x80],
            [0xf8, 0x88, 0x80, 0x80, 0x80],
            [0x00],
          ),
        )
        .map(([at, bad]) => {
          const bytes = enc.encode(text);
          const out = new Uint8Array(bytes.length + bad.length);
          out.set(bytes.subarray(0, at));
          out.set(bad, at);
          out.set(bytes.subarray(at), at + bad.length);
          return { body: out, label: 'invalid UTF-8' };
        }),
    ),
    fc
      .integer({ min: limits.maxJsonDepth - 2, max: limits.maxJsonDepth * 300 })
      .chain((depth) =>
        fc.constantFrom(
          { body: enc.encode(nested(depth, '[', ']')), label: 'deep array' },
          { body: enc.encode(nested(depth, '{"a":', '}')), label: 'deep object' },
          { body: enc.encode(`{"events":${nested(depth, '[', ']')}}`), label: 'deep batch' },
        ),
      ),
    fc
      .tuple(
        fc.constantFrom('__proto__', 'constructor'),
        validText,
        fc.constantFrom('{"polluted":true}', '{"prototype":{"polluted":true}}', 'null', '1'),
      )
      .map(([key, text, junk]) => {
        const body = text.startsWith('{')
          ? `{"${key}":${junk},${text.slice(1)}`
          : `{"${key}":${junk}}`;
        return { body: enc.encode(body.replace(',}', '}')), label: `${key} key` };
      }),
    fc.integer({ min: limits.maxBodyBytes + 1, max: limits.maxBodyBytes * 3 }).map((n) => ({
      body: enc.encode(`{"user_id":"${'u'.repeat(n)}","event_type":"x"}`),
      label: 'oversized body',
    })),
    fc
      .constantFrom(
        '',
        ' ',
        'null',
        'true',
        '1',
        '"x"',
        '[]',
        '{}',
        '[null]',
        '[[]]',
        '{"events":{}}',
        '{"events":null}',
        '\ufeff{}',
        'NaN',
        '{"a":1}{"b":2}',
        '\n\n\n',
      )
      .map((text) => ({ body: enc.encode(text), label: 'odd JSON' })),
    anyJson.map((value) => ({
      body: enc.encode(JSON.stringify(value) ?? 'null'),
      label: 'any JSON',
    })),
  );
}

/** Batches at, around and past BATCH_MAX_EVENTS, with items good and bad. */
function batchBodies(limits: FuzzLimits, item: fc.Arbitrary<unknown>) {
  const sizes = fc.constantFrom(0, 1, 2, limits.batchMaxEvents, limits.batchMaxEvents + 1);
  return fc
    .tuple(sizes, fc.array(fc.oneof(item, anyJson), { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([n, samples, wrapped]) => {
      const items = Array.from({ length: n }, (_, i) => samples[i % samples.length]);
      return {
        body: enc.encode(JSON.stringify(wrapped ? { events: items } : items)),
        label: `batch of ${n}`,
      };
    });
}

const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/octet-stream',
  'application/x-ndjson',
  'application/problem+json',
  'APPLICATION/JSON',
  'application/json;;;',
  '',
];

function lossyEncode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    // a lone surrogate: send it percent-encoded byte by byte as invalid UTF-8
    return '%ED%A0%80';
  }
}

/** Requests for one operation: valid, mutated and raw. */
export function requestsFor(op: Operation, limits: FuzzLimits): fc.Arbitrary<FuzzRequest> {
  const paramValue = (schema: Schema) =>
    fc.oneof(
      {
        weight: 2,
        arbitrary: validFor(schema).map((v) =>
          typeof v === 'string' ? v : (JSON.stringify(v) ?? ''),
        ),
      },
      { weight: 2, arbitrary: nastyString },
      { weight: 1, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? '') },
    );
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const target = fc
    .tuple(
      fc.tuple(...pathParams.map((p) => paramValue(p.schema))),
      fc.tuple(
        ...queryParams.map((p) =>
          fc.option(fc.array(paramValue(p.schema), { minLength: 1, maxLength: 2 }), {
            freq: p.required ? 10 : 2,
          }),
        ),
      ),
      fc.option(fc.tuple(nastyString, nastyString), { freq: 3 }),
    )
    .map(([pathValues, queryValues, extra]) => {
      let path = op.path;
      pathParams.forEach((p, i) => {
        const value = pathValues[i] ?? '';
        path = path.replace(`{${p.name}}`, value === '' ? '%20' : lossyEncode(String(value)));
      });
      const query: string[] = [];
      queryParams.forEach((p, i) => {
        for (const v of queryValues[i] ?? []) query.push(`${p.name}=${lossyEncode(String(v))}`);
      });
      if (extra !== null) query.push(`${lossyEncode(extra[0])}=${lossyEncode(extra[1])}`);
      return query.length > 0 ? `${path}?${query.join('&')}` : path;
    });

  // Mostly short values: a header beyond the server's limit only ever gets 431.
  const headerValue = fc.oneof(
    { weight: 9, arbitrary: nastyString.filter((v) => v.length <= 200) },
    { weight: 1, arbitrary: nastyString },
  );
  const headers = fc
    .record(
      {
        'idempotency-key': fc.oneof(
          headerValue,
          fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$/),
        ),
        'x-correlation-id': headerValue,
        traceparent: headerValue,
      },
      { requiredKeys: [] },
    )
    .map(
      (h) =>
        // Header values must be Latin-1 without control characters to be sent at all.
        Object.fromEntries(
          Object.entries(h).filter(([, v]) => /^[\x20-\x7e]*$/.test(String(v))),
        ) as Record<string, string>,
    );

  if (op.body === undefined) {
    return fc.tuple(target, headers).map(([t, h]) => ({
      method: op.method,
      target: t,
      headers: h,
      body: undefined,
      label: `${op.method} ${op.path} params`,
    }));
  }
  const valid = validFor(op.body.schema);
  const validText = valid.map((v) => JSON.stringify(v) ?? 'null');
  const bodies = fc.oneof(
    {
      weight: 2,
      arbitrary: valid.map((v) => ({
        body: enc.encode(JSON.stringify(v) ?? 'null'),
        label: 'valid',
      })),
    },
    {
      weight: 4,
      arbitrary: mutated(valid).map(({ value, label }) => ({
        body: enc.encode(JSON.stringify(value) ?? 'null'),
        label,
      })),
    },
    { weight: 3, arbitrary: rawBodies(limits, validText) },
    ...(op.path.endsWith('/batch') ? [{ weight: 3, arbitrary: batchBodies(limits, valid) }] : []),
  );
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...op.body.contentTypes) },
    { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
  );
  return fc.tuple(target, headers, bodies, contentType).map(([t, h, b, ct]) => ({
    method: op.method,
    target: t,
    headers: ct === '' ? h : { ...h, 'content-type': ct },
    body: b.body,
    label: `${op.method} ${op.path} ${b.label} (${ct || 'no content type'})`,
  }));
}

/** Requests for every operation that takes a body or parameters. */
export function anyRequest(operations: readonly Operation[], limits: FuzzLimits) {
  const fuzzable = operations.filter((op) => op.body !== undefined || op.parameters.length > 0);
  if (fuzzable.length === 0) throw new Error('no operation takes a body or parameters');
  return fc.oneof(...fuzzable.map((op) => requestsFor(op, limits)));
}

export interface FuzzAnswer {
  method: string;
  target: string;
  status: number;
  headers: Headers;
  contentType: string;
  text: string;
}

/** Sends a request; the answer is judged by `verdict` (so unchecked by the global check). */
export async function sendFuzz(baseUrl: string, request: FuzzRequest): Promise<FuzzAnswer> {
  const response = await uncheckedFetch(baseUrl + request.target, {
    method: request.method,
    headers: request.headers,
    ...(request.body === undefined ? {} : { body: request.body }),
    signal: AbortSignal.timeout(30_000),
  });
  return {
    method: request.method,
    target: request.target,
    status: response.status,
    headers: response.headers,
    contentType: response.headers.get('content-type') ?? '',
    text: await response.text(),
  };
}

/**
 * Why an answer breaks the property, or undefined when it is fine; with the served `document`,
 * an answer it does not list (status, content type, body) breaks it too.
 */
export function verdict(answer: FuzzAnswer, document?: OpenApiDocument): string | undefined {
  if (answer.status >= 500) return `${answer.status}: ${answer.text.slice(0, 500)}`;
  const undocumented = document?.violations({
    method: answer.method,
    url: answer.target,
    status: answer.status,
    headers: answer.headers,
    body: answer.text,
  });
  if (undocumented !== undefined && undocumented.length > 0) return undocumented.join('; ');
  if (answer.status < 400) return undefined;
  if (!answer.contentType.startsWith('application/problem+json')) {
    return `${answer.status} is not problem+json (${answer.contentType}): ${answer.text.slice(0, 200)}`;
  }
  try {
    const body = JSON.parse(answer.text) as { status?: unknown; type?: unknown };
    if (body.status !== answer.status)
      return `problem status ${String(body.status)} ≠ ${answer.status}`;
    if (typeof body.type !== 'string') return 'problem without a type';
  } catch {
    return `${answer.status} problem body is not JSON: ${answer.text.slice(0, 200)}`;
  }
  return undefined;
}

/** A short description of a request for failure messages (bodies cut to a prefix). */
export function describeRequest(request: FuzzRequest): string {
  const body =
    request.body === undefined
      ? ''
      : ` body[${request.body.length}]=${Buffer.from(request.body.subarray(0, 300)).toString('utf8')}`;
  const headers = Object.entries(request.headers).map(
    ([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}…[${v.length}]` : v}`,
  );
  return `${request.label}: ${request.method} ${request.target.slice(0, 300)} {${headers.join(', ')}}${body}`;
}
