import type { Scope } from '../domain/api-keys.ts';

/** Who may call a route: anyone, the user service's own sessions, or an API key with a scope. */
export type Access = 'public' | 'session' | Scope;

const startsWithAny = (url: string, prefixes: readonly string[]) =>
  prefixes.some((p) => url.startsWith(p));

/**
 * The access policy, in one place, by route pattern. Anything not named here needs `admin`:
 * a route added without thought is closed, not open.
 */
export function accessFor(method: string, route: string): Access {
  if (route === '' || route === '/' || startsWithAny(route, ['/health', '/docs', '/dashboard']))
    return 'public';
  if (route === '/users' || route.startsWith('/users/')) return 'session';
  if (route.startsWith('/metrics')) return 'metrics:read';
  // The delivery log holds people's addresses and webhook endpoints sign with secrets: admin
  // only, named here so that widening a readable prefix can never open them.
  if (route.startsWith('/api/v1/notifications')) return 'admin';
  if (method === 'POST' && (route === '/events' || startsWithAny(route, ['/api/v1/events']))) {
    return 'events:write';
  }
  const readable = [
    '/api/v1/events',
    '/api/v1/analytics',
    '/api/v1/molecules',
    '/api/v1/agents',
    '/api/v1/schemas',
  ];
  if ((method === 'GET' || method === 'HEAD') && startsWithAny(route, readable))
    return 'analytics:read';
  return 'admin';
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost|\[::1\])$/;

/** `AUTH=auto` requires keys unless the API listens on loopback only. */
export function authRequired(mode: 'auto' | 'required' | 'disabled', host: string): boolean {
  if (mode === 'required') return true;
  if (mode === 'disabled') return false;
  return !LOOPBACK.test(host);
}
