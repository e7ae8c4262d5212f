/**
 * Notifications without I/O: the templates per event type and channel, Standard Webhooks
 * signing (https://www.standardwebhooks.com), webhook secrets, subscription matching and the
 * retry schedule.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { USER_EVENTS } from './users.ts';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export interface RenderedPush {
  title: string;
  body: string;
  /** Where a click on the notification leads (relative to the app). */
  url: string;
  tag: string;
}

/** The user fields the templates read, from userEventView in domain/users.ts. */
export interface UserFacts {
  id: string;
  username: string;
  email: string;
  fullName: string | null;
  phone: string | null;
}

/**
 * Reads the user facts out of a user event's payload — `{ event_id, type, occurred_at, user }`
 * as the user service publishes it, or the user view itself; undefined when it is neither.
 */
export function userFacts(payload: Record<string, unknown>): UserFacts | undefined {
  const nested = payload.user;
  const view =
    typeof nested === 'object' && nested !== null ? (nested as Record<string, unknown>) : payload;
  const { id, username, email, full_name, phone } = view;
  if (typeof id !== 'string' || typeof email !== 'string') return undefined;
  return {
    id,
    username: typeof username === 'string' ? username : email,
    email,
    fullName: typeof full_name === 'string' && full_name !== '' ? full_name : null,
    phone: typeof phone === 'string' && phone !== '' ? phone : null,
  };
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** User-supplied text (names) goes into HTML escaped: a name is never markup. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

function email(subject: string, lines: string[]): RenderedEmail {
  return {
    subject,
    text: `${lines.join('\n\n')}\n\n— Herald`,
    html: `<!doctype html><html><body>${lines
      .map((l) => `<p>${escapeHtml(l)}</p>`)
      .join('')}<p>— Herald</p></body></html>`,
  };
}

const nameOf = (user: UserFacts) => user.fullName ?? user.username;

interface UserTemplates {
  email?: (user: UserFacts) => RenderedEmail;
  sms?: (user: UserFacts) => string;
  push?: (user: UserFacts) => RenderedPush;
}

/**
 * What each user event says on each channel. A channel missing for an event type is not
 * used for it (an account deletion is not pushed to a browser whose subscription is gone).
 */
export const USER_TEMPLATES: Record<string, UserTemplates> = {
  [USER_EVENTS.created]: {
    email: (u) =>
      email('Welcome to Herald', [
        `Hello ${nameOf(u)},`,
        `your Herald account "${u.username}" is ready. Sign in with ${u.email}.`,
      ]),
    sms: (u) => `Welcome to Herald, ${nameOf(u)}! Your account "${u.username}" is ready.`,
    push: (u) => ({
      title: 'Welcome to Herald',
      body: `Your account "${u.username}" is ready.`,
      url: '/dashboard',
      tag: `user-created-${u.id}`,
    }),
  },
  [USER_EVENTS.updated]: {
    email: (u) =>
      email('Your Herald account was changed', [
        `Hello ${nameOf(u)},`,
        'the details of your Herald account were just changed. If this was not you, ' +
          'contact your administrator.',
      ]),
    push: (u) => ({
      title: 'Account changed',
      body: 'The details of your Herald account were changed.',
      url: '/dashboard',
      tag: `user-updated-${u.id}`,
    }),
  },
  [USER_EVENTS.deleted]: {
    email: (u) =>
      email('Your Herald account was deleted', [
        `Hello ${nameOf(u)},`,
        `your Herald account "${u.username}" has been deleted. We are sorry to see you go.`,
      ]),
  },
};

// --- Webhooks (Standard Webhooks) ---------------------------------------------------------

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** Whether `secret` is a usable `whsec_` secret (base64 of 24 to 64 bytes). */
export function isWebhookSecret(secret: string): boolean {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return false;
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return false;
  const length = Buffer.from(encoded, 'base64').length;
  return length >= 24 && length <= 64;
}

/**
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the secret's decoded key.
 *
 * @example
 * signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek',
 *   1614265330, '{"test": 2432232314}');
 * // 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(WEBHOOK_SECRET_PREFIX.length), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers; one signature per secret, space-separated. */
export function webhookHeaders(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => signWebhook(s, id, timestamp, body)).join(' '),
  };
}

/** The body a webhook receives: `{ type, timestamp, data }`, as Standard Webhooks suggests. */
export function webhookBody(type: string, occurredAt: string, data: Record<string, unknown>) {
  return JSON.stringify({ type, timestamp: occurredAt, data });
}

/**
 * Whether an endpoint subscribed to `eventTypes` receives `type`: an exact name, `*` for
 * everything, or a prefix wildcard such as `user.*`.
 */
export function subscribes(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.some(
    (pattern) =>
      pattern === '*' ||
      pattern === type ||
      (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))),
  );
}

// --- Retries -------------------------------------------------------------------------------

export interface RetrySchedule {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before attempt `attempt + 1` after `attempt` failed: exponential, capped, with "equal
 * jitter" (half fixed, half random) so that retries of a fleet spread out yet the schedule
 * still spans hours (full jitter could retry a failing endpoint at once, every time). A
 * provider's Retry-After is honoured when it asks for longer.
 *
 * @example
 * retryDelay(3, { baseMs: 30000, maxMs: 14400000 }, undefined, () => 0.5); // 90000
 */
export function retryDelay(
  attempt: number,
  schedule: RetrySchedule,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(schedule.maxMs, schedule.baseMs * 2 ** Math.max(0, attempt - 1));
  const delay = Math.floor(ceiling / 2 + (random() * ceiling) / 2);
  return Math.max(delay, retryAfterMs ?? 0);
}
