/**
 * Checks HTTP answers against the OpenAPI document the answering server serves at /docs/json:
 * the status is one the operation lists, the content type one listed for that status, and the
 * body matches its schema (a problem's `status` matches the answer's). A path the document
 * knows with a method it does not list must answer 405 with `Allow`; any other error of an
 * undocumented route must still be a problem document.
 *
 * Used by every test process (test/helpers/check-responses.ts wraps fetch, loaded by
 * scripts/test.ts) and by the fuzzer (openapi-fuzz.ts), so the document cannot drift from
 * the code. A test that deliberately receives answers outside the document uses
 * `uncheckedFetch`.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

type Json = { [key: string]: unknown };

/** One answer as the checker needs it. */
export interface Answer {
  method: string;
  /** The request's URL (absolute, or a path with its query string). */
  url: string;
  status: number;
  headers: Headers;
  body: string;
}

interface Operation {
  method: string;
  template: string;
  matches: RegExp;
  /** Static segments before the first parameter: the router prefers the most specific path. */
  specificity: number;
  responses: Record<string, Json>;
}

const ORIGINAL_FETCH = Symbol.for('herald.test.uncheckedFetch');

/** fetch without the OpenAPI check, for tests that deliberately get undocumented answers. */
export const uncheckedFetch: typeof fetch = (input, init) => {
  const original = (globalThis as Record<symbol, unknown>)[ORIGINAL_FETCH] as
    | typeof fetch
    | undefined;
  return (original ?? globalThis.fetch)(input, init);
};

export function rememberOriginalFetch(original: typeof fetch): void {
  (globalThis as Record<symbol, unknown>)[ORIGINAL_FETCH] = original;
}

function compileTemplate(template: string): { matches: RegExp; specificity: number } {
  const segments = template.split('/');
  const firstParameter = segments.findIndex((s) => s.startsWith('{'));
  const pattern = segments
    .map((s) => (s.startsWith('{') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return {
    matches: new RegExp(`^${pattern}$`),
    specificity: firstParameter === -1 ? segments.length * 2 : firstParameter,
  };
}

const mediaType = (contentType: string | null) =>
  (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

const isJson = (media: string) => media === 'application/json' || media.endsWith('+json');

function pointer(path: string[]): string {
  return path.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
}

/** A served OpenAPI document, compiled for checking answers. */
export class OpenApiDocument {
  readonly #operations: Operation[] = [];
  readonly #ajv: InstanceType<typeof Ajv2020.default>;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(document: Json) {
    for (const [template, item] of Object.entries((document.paths ?? {}) as Record<string, Json>)) {
      for (const [method, operation] of Object.entries(item)) {
        const responses = ((operation as Json).responses ?? {}) as Record<string, Json>;
        this.#operations.push({
          method: method.toUpperCase(),
          template,
          ...compileTemplate(template),
          responses,
        });
      }
    }
    this.#ajv = addFormats.default(
      new Ajv2020.default({ strict: false, allErrors: true, validateSchema: false }),
    );
    this.#ajv.addSchema(document, 'openapi');
  }

  /** The operation a request reaches, the way the router picks it (most specific path first). */
  #operation(method: string, path: string): Operation | undefined {
    const wanted = method === 'HEAD' ? 'GET' : method;
    let best: Operation | undefined;
    for (const op of this.#operations) {
      if (op.method !== wanted || !op.matches.test(path)) continue;
      if (best === undefined || op.specificity > best.specificity) best = op;
    }
    return best;
  }

  #validator(op: Operation, status: string, media: string): ValidateFunction {
    const key = `${op.method} ${op.template} ${status} ${media}`;
    let validate = this.#validators.get(key);
    if (validate === undefined) {
      const at = ['paths', op.template, op.method.toLowerCase(), 'responses', status, 'content'];
      validate = this.#ajv.compile({ $ref: `openapi#/${pointer([...at, media, 'schema'])}` });
      this.#validators.set(key, validate);
    }
    return validate;
  }

  /** What is wrong with an answer by the document; empty when nothing is. */
  violations(answer: Answer): string[] {
    const path = new URL(answer.url, 'http://herald.invalid').pathname;
    const name = `${answer.method} ${path} → ${answer.status}`;
    const media = mediaType(answer.headers.get('content-type'));
    const op = this.#operation(answer.method, path);
    if (op === undefined) return this.#undocumented(answer, path, name, media);
    const status = String(answer.status);
    const response = op.responses[status] ?? op.responses[`${status[0]}XX`] ?? op.responses.default;
    const operation = `${op.method} ${op.template}`;
    if (response === undefined) {
      return [
        `${name}: ${operation} does not list ${status} (lists ${Object.keys(op.responses).join(', ')})`,
      ];
    }
    const content = response.content as Record<string, Json> | undefined;
    if (content === undefined || Object.keys(content).length === 0) {
      return answer.body === ''
        ? []
        : [`${name}: ${operation} ${status} has no body, got ${media}`];
    }
    if (!(media in content)) {
      return [
        `${name}: ${operation} ${status} is ${Object.keys(content).join(' or ')}, not "${media}"`,
      ];
    }
    if (answer.method === 'HEAD' || !isJson(media)) return [];
    let body: unknown;
    try {
      body = JSON.parse(answer.body);
    } catch {
      return [`${name}: the ${media} body is not JSON: ${answer.body.slice(0, 200)}`];
    }
    const found: string[] = [];
    const validate = this.#validator(op, status, media);
    if (!validate(body)) {
      const errors = (validate.errors ?? [])
        .slice(0, 10)
        .map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}`);
      found.push(
        `${name}: the body does not match ${operation} ${status} ${media}: ${errors.join('; ')}\n  body: ${answer.body.slice(0, 500)}`,
      );
    }
    if (media === 'application/problem+json') found.push(...problemStatus(answer, name, body));
    return found;
  }

  #undocumented(answer: Answer, path: string, name: string, media: string): string[] {
    // Hidden routes (the docs, the dashboard, /users beside /users/) answer as they like.
    if (answer.status < 400) return [];
    const found: string[] = [];
    if (answer.status === 404 && this.#operations.some((op) => op.matches.test(path))) {
      found.push(`${name}: the document lists ${path} for other methods: expected 405`);
    }
    if (answer.status === 405 && !answer.headers.has('allow')) {
      found.push(`${name}: 405 without an Allow header`);
    }
    if (media !== 'application/problem+json') {
      return [...found, `${name}: an error answered "${media}", not application/problem+json`];
    }
    if (answer.method === 'HEAD') return found;
    try {
      return [...found, ...problemStatus(answer, name, JSON.parse(answer.body))];
    } catch {
      return [...found, `${name}: the problem body is not JSON: ${answer.body.slice(0, 200)}`];
    }
  }
}

function problemStatus(answer: Answer, name: string, body: unknown): string[] {
  const status = (body as { status?: unknown } | null)?.status;
  return status === answer.status ? [] : [`${name}: the problem says status ${String(status)}`];
}

const documents = new Map<string, Promise<OpenApiDocument | undefined>>();
const compiled = new Map<string, OpenApiDocument>();

/**
 * The document `origin` serves, compiled once per distinct document; undefined when it serves
 * none (a server that is shutting down, or not Herald's API).
 */
export function documentOf(origin: string, refresh = false): Promise<OpenApiDocument | undefined> {
  let found = documents.get(origin);
  if (found === undefined || refresh) {
    found = (async () => {
      try {
        const response = await uncheckedFetch(`${origin}/docs/json`, {
          signal: AbortSignal.timeout(10_000),
        });
        if (response.status !== 200) return undefined;
        const text = await response.text();
        let document = compiled.get(text);
        if (document === undefined) {
          document = new OpenApiDocument(JSON.parse(text) as Json);
          compiled.set(text, document);
        }
        return document;
      } catch {
        return undefined;
      }
    })();
    documents.set(origin, found);
    // No document (yet): ask again next time rather than remember the absence.
    found.then((document) => {
      if (document === undefined) documents.delete(origin);
    });
  }
  return found;
}

/**
 * The violations of an answer from `origin`; checked again against a freshly fetched document
 * before they count, in case another server (with another configuration) took the port.
 */
export async function checkAnswer(origin: string, answer: Answer): Promise<string[]> {
  const document = await documentOf(origin);
  if (document === undefined) return [];
  const found = document.violations(answer);
  if (found.length === 0) return found;
  const fresh = await documentOf(origin, true);
  return fresh === undefined ? found : fresh.violations(answer);
}

/** Whether an answer comes from a Herald API server (it names the request's correlation id). */
export function isHeraldAnswer(headers: Headers): boolean {
  return headers.has('x-correlation-id');
}
