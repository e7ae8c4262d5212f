import type { FastifyReply, FastifyRequest } from 'fastify';
import { textRefusal } from '../domain/postgres-limits.ts';
import { problem, sendProblem } from './problem.ts';

const unstorable = (text: string) => textRefusal(text) !== undefined;

/**
 * The path (`data.formula`, `events.3.user_id`, `query.user_id`) of the first key or string in
 * `value` that PostgreSQL cannot store, or undefined. JSON allows `\u0000` and lone surrogates
 * (`"\ud800"`); the database refuses them, so they must be refused at the door rather than
 * accepted and then failing deep inside.
 */
export function findUnstorableText(value: unknown, prefix = ''): string | undefined {
  // Every request body goes through here: the common answer (nothing to refuse) is found
  // without building a path per key, which cost a 1,000-event batch ~1.7 MB of garbage.
  if (!containsUnstorableText(value)) return undefined;
  return pathOfUnstorableText(value, prefix);
}

/** Whether any key or string in `value` is unstorable; allocates nothing but its stack. */
function containsUnstorableText(value: unknown): boolean {
  if (typeof value === 'string') return unstorable(value);
  if (typeof value !== 'object' || value === null) return false;
  const stack: object[] = [value];
  while (stack.length > 0) {
    const node = stack.pop() as Record<string, unknown>;
    if (Array.isArray(node)) {
      for (const child of node) {
        if (typeof child === 'string') {
          if (unstorable(child)) return true;
        } else if (typeof child === 'object' && child !== null) stack.push(child);
      }
      continue;
    }
    // for…in with hasOwn visits what Object.entries does, without an array per object.
    for (const key in node) {
      if (!Object.hasOwn(node, key)) continue;
      if (unstorable(key)) return true;
      const child = node[key];
      if (typeof child === 'string') {
        if (unstorable(child)) return true;
      } else if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return false;
}

/** The path of the first unstorable key or string (the refusal's detail; rare, so plain). */
function pathOfUnstorableText(value: unknown, prefix: string): string | undefined {
  const stack: [unknown, string][] = [[value, prefix]];
  while (stack.length > 0) {
    const [node, path] = stack.pop() as [unknown, string];
    if (typeof node === 'string') {
      if (unstorable(node)) return path === '' ? '(body)' : path;
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    for (const [key, child] of Object.entries(node)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      if (unstorable(key)) return path === '' ? '(key)' : `${path}.(key)`;
      stack.push([child, childPath]);
    }
  }
  return undefined;
}

/**
 * preValidation hook: a body, query string or path parameter with text PostgreSQL cannot store
 * gets a 422 naming the field, never a 5xx from the database later.
 */
export async function refuseUnstorableText(request: FastifyRequest, reply: FastifyReply) {
  const field =
    findUnstorableText(request.params, 'params') ??
    findUnstorableText(request.query, 'query') ??
    (request.body === undefined ? undefined : findUnstorableText(request.body));
  if (field === undefined) return;
  const body = problem(
    422,
    'validation',
    'Request is invalid',
    `${field}: text must not contain NUL characters or unpaired surrogates`,
  );
  body.errors = [{ field, message: 'must not contain NUL characters or unpaired surrogates' }];
  return sendProblem(reply, body);
}
