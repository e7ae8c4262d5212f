/**
 * Loaded into every test process (`node --test --import`, scripts/test.ts): wraps fetch so that
 * every answer from a Herald API server (one naming an x-correlation-id) is checked against the
 * OpenAPI document that server serves (openapi-responses.ts). A violation rejects the fetch
 * with the operation, status and schema errors, and fails the test file at exit even if the
 * code that called fetch swallowed the rejection. Opt out per call with `uncheckedFetch`, or
 * for a whole run with HERALD_OPENAPI_CHECK=off.
 */
import { checkAnswer, isHeraldAnswer, rememberOriginalFetch } from './openapi-responses.ts';

const original = globalThis.fetch;
rememberOriginalFetch(original);

const violations: string[] = [];

function methodOf(input: Parameters<typeof fetch>[0], init?: RequestInit): string {
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  return method.toUpperCase();
}

async function checkedFetch(
  input: Parameters<typeof fetch>[0],
  init?: RequestInit,
): Promise<Response> {
  const response = await original(input, init);
  if (!isHeraldAnswer(response.headers) || response.url === '') return response;
  const url = new URL(response.url);
  if (url.pathname.startsWith('/docs')) return response;
  const body = await response.clone().text();
  const found = await checkAnswer(url.origin, {
    method: methodOf(input, init),
    url: response.url,
    status: response.status,
    headers: response.headers,
    body,
  });
  if (found.length === 0) return response;
  violations.push(...found);
  throw new Error(
    `The answer does not match the served OpenAPI document:\n  ${found.join('\n  ')}`,
  );
}

/**
 * Runs `fn` and returns the violations its fetches met; they then do not fail the file (for
 * the tests of the check itself).
 */
export async function violationsDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const start = violations.length;
  await fn();
  return violations.splice(start);
}

if (process.env.HERALD_OPENAPI_CHECK !== 'off') {
  globalThis.fetch = checkedFetch as typeof fetch;
  process.on('exit', () => {
    if (violations.length === 0) return;
    process.stderr.write(
      `\n${violations.length} answer(s) did not match the served OpenAPI document:\n  ${violations.join('\n  ')}\n`,
    );
    process.exitCode = 1;
  });
}
