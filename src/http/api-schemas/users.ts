/**
 * The API's JSON for users (see common.ts): a user (userEventView's fields: no secrets), the
 * fields a user is created or changed with, logins, sessions and notification preferences.
 */
import { NOTIFY_CHANNELS } from '../../app/users.ts';
import { POSTGRES_INTEGER_MAX } from '../../domain/postgres-limits.ts';
import { type Actor, ROLES, USER_LIMITS } from '../../domain/users.ts';
import type { StoredSession } from '../../ports/user-store.ts';
import { problem } from './common.ts';

/** A user as userEventView (domain/users.ts) shows one. */
export const userJson = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    email: { type: 'string' },
    full_name: { type: ['string', 'null'] },
    age: { type: ['integer', 'null'] },
    phone: { type: ['string', 'null'] },
    role: { type: 'string', enum: [...ROLES] },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
} as const;

const userFields = {
  username: {
    type: 'string',
    pattern: USER_LIMITS.usernamePattern,
    description: '2–64 letters, digits, `_`, `.`, `-`; unique (case-insensitive)',
  },
  email: {
    type: 'string',
    format: 'email',
    maxLength: USER_LIMITS.emailMaxLength,
    description: 'Unique (case-insensitive)',
  },
  password: {
    type: 'string',
    minLength: USER_LIMITS.passwordMinLength,
    maxLength: USER_LIMITS.passwordMaxLength,
    writeOnly: true,
  },
  role: {
    type: 'string',
    enum: [...ROLES],
    description: 'Defaults to user; only an admin may give or change a role, or make an admin',
  },
  age: { type: ['integer', 'null'], minimum: USER_LIMITS.ageMin, maximum: USER_LIMITS.ageMax },
  full_name: { type: ['string', 'null'], maxLength: USER_LIMITS.fullNameMaxLength },
  phone: {
    type: ['string', 'null'],
    pattern: USER_LIMITS.phonePattern,
    description: 'E.164, for SMS notifications',
  },
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export const sessionParams = {
  type: 'object',
  required: ['id', 'session_id'],
  properties: {
    id: idParams.properties.id,
    session_id: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

/** The routes' security requirement: a session token or an admin API key. */
export const bearer = [{ bearerAuth: [] }];

export const listQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    offset: { type: 'integer', minimum: 0, maximum: POSTGRES_INTEGER_MAX, default: 0 },
  },
} as const;

export const listResponse = { type: 'array', items: userJson } as const;

export const createBody = {
  type: 'object',
  required: ['username', 'email', 'password'],
  properties: userFields,
  examples: [
    {
      username: 'john_doe',
      email: 'john@example.com',
      password: 'SecurePass123',
      role: 'user',
      age: 25,
      full_name: 'John Doe',
    },
  ],
} as const;

export const updateBody = {
  type: 'object',
  minProperties: 1,
  properties: userFields,
  examples: [{ username: 'john_updated', email: 'john.updated@example.com' }],
} as const;

export const loginBody = {
  type: 'object',
  required: ['username', 'password'],
  properties: {
    username: {
      type: 'string',
      minLength: 1,
      maxLength: 254,
      description: 'username or email',
    },
    password: { type: 'string', minLength: 1, maxLength: USER_LIMITS.passwordMaxLength },
  },
  examples: [{ username: 'john_doe', password: 'SecurePass123' }],
} as const;

export const loginResponse = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string', enum: ['bearer'] },
    session_id: { type: 'string' },
    expires_at: { type: 'string', format: 'date-time' },
    user: userJson,
  },
} as const;

const sessionJson = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    expires_at: { type: 'string', format: 'date-time' },
    last_seen_at: { type: ['string', 'null'], format: 'date-time' },
    ip: { type: ['string', 'null'] },
    user_agent: { type: ['string', 'null'] },
    current: { type: 'boolean', description: 'the session this request was made with' },
  },
} as const;

export const sessionsResponse = {
  type: 'object',
  properties: { sessions: { type: 'array', items: sessionJson } },
} as const;

/** A session as `sessionJson` describes it; `current` when `actor` made the request with it. */
export function sessionToJson(session: StoredSession, actor: Actor) {
  return {
    id: session.id,
    created_at: session.createdAt,
    expires_at: session.expiresAt,
    last_seen_at: session.lastSeenAt,
    ip: session.ip,
    user_agent: session.userAgent,
    current: session.id === actor.sessionId,
  };
}

export const preferences = {
  type: 'object',
  description: 'Notification channels; false = opted out. A channel never set is on.',
  properties: Object.fromEntries(NOTIFY_CHANNELS.map((c) => [c, { type: 'boolean' }])),
} as const;

export const preferencesBody = {
  ...preferences,
  minProperties: 1,
  additionalProperties: false,
  examples: [{ sms: false }],
} as const;

/** The refusals of a request about one user. */
export const userProblems = { 401: problem, 403: problem, 404: problem } as const;
