import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyService } from '../../app/api-keys.ts';
import {
  NOTIFY_CHANNELS,
  type RequestContext,
  type UserInput,
  type UserService,
  type UserUpdate,
} from '../../app/users.ts';
import { grants } from '../../domain/api-keys.ts';
import { POSTGRES_INTEGER_MAX } from '../../domain/postgres-limits.ts';
import {
  type Actor,
  looksLikeSessionToken,
  ROLES,
  USER_LIMITS,
  type User,
} from '../../domain/users.ts';
import { ErrorCodes, HeraldError } from '../../errors.ts';
import type { StoredSession } from '../../ports/user-store.ts';
import * as schemas from '../schemas.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who a /users request acts as: a session's user, or an admin-scoped API key. */
    actor: Actor | undefined;
  }
}

export interface UserRoutesOptions {
  users: UserService;
  /** API keys with the `admin` scope act as an admin on these routes. */
  keys: ApiKeyService;
}

const TAG = 'users';

const userJson = {
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

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
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

const preferencesJson = {
  type: 'object',
  description: 'Notification channels; false = opted out. A channel never set is on.',
  properties: Object.fromEntries(NOTIFY_CHANNELS.map((c) => [c, { type: 'boolean' }])),
} as const;

const bearer = [{ bearerAuth: [] }];

function toJson(user: User) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    full_name: user.fullName,
    age: user.age,
    phone: user.phone,
    role: user.role,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
  };
}

function sessionToJson(session: StoredSession, actor: Actor) {
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

function contextOf(request: FastifyRequest): RequestContext {
  const agent = request.headers['user-agent'];
  return {
    ip: request.ip ?? null,
    userAgent: typeof agent === 'string' ? agent.slice(0, 512) : null,
    correlationId: request.id,
  };
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The actor of a request that needs one; 401 without. */
function actorOf(request: FastifyRequest): Actor {
  if (request.actor === undefined) {
    throw new HeraldError(ErrorCodes.UNAUTHENTICATED, 'log in: send Authorization: Bearer <token>');
  }
  return request.actor;
}

/**
 * The user service (seed 004): `GET/POST /users/`, `GET/PUT/DELETE /users/{id}`,
 * `POST /users/login`, plus logout, sessions and notification preferences.
 *
 * Authentication: `Authorization: Bearer <token>`, where the token is either a session token
 * from `POST /users/login` (acting as that user, with its role) or an API key with the `admin`
 * scope (acting as an admin, for provisioning). The API-key hook (auth.ts) leaves these routes
 * to this plugin (access `session` in access.ts), so a session token is never mistaken for a
 * missing API key and an API key is never looked up as a session.
 */
export async function userRoutes(app: FastifyInstance, options: UserRoutesOptions) {
  const { users, keys } = options;

  app.decorateRequest('actor', undefined);
  app.addHook('onRequest', async (request) => {
    // A client still sending a dead session's token must be able to log in again.
    if (request.routeOptions.url === '/users/login') return;
    const token = bearerToken(request);
    if (token === undefined) return;
    if (looksLikeSessionToken(token)) {
      request.actor = await users.authenticate(token);
      if (request.actor !== undefined) return;
    }
    const principal = await keys.verify(token);
    if (principal === undefined) {
      throw new HeraldError(
        ErrorCodes.UNAUTHENTICATED,
        'the session is unknown, expired or revoked; log in again',
      );
    }
    if (!grants(principal.scopes, 'admin')) {
      throw new HeraldError(
        ErrorCodes.FORBIDDEN,
        'only API keys with the admin scope manage users',
      );
    }
    request.actor = { userId: `api-key:${principal.keyId}`, role: 'admin', sessionId: '' };
  });

  // The seed's clients call `/users/`; `/users` is the same collection.
  for (const url of ['/users/', '/users']) {
    const hide = url === '/users';
    app.get(
      url,
      {
        schema: {
          hide,
          summary: 'Users: every user for an admin, only yourself otherwise',
          tags: [TAG],
          security: bearer,
          querystring: {
            type: 'object',
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
              offset: { type: 'integer', minimum: 0, maximum: POSTGRES_INTEGER_MAX, default: 0 },
            },
          },
          response: { 200: { type: 'array', items: userJson }, 401: schemas.problem },
        },
      },
      async (request) => {
        const { limit, offset } = request.query as { limit: number; offset: number };
        return (await users.list(actorOf(request), limit, offset)).map(toJson);
      },
    );

    app.post(
      url,
      {
        schema: {
          hide,
          summary: 'Create a user (sign-up when USERS_OPEN_REGISTRATION is on; admins always)',
          tags: [TAG],
          body: {
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
          },
          response: {
            201: userJson,
            403: schemas.problem,
            409: schemas.problem,
            422: schemas.problem,
          },
        },
      },
      async (request, reply) => {
        const user = await users.create(
          request.body as UserInput,
          request.actor,
          contextOf(request),
        );
        return reply.code(201).header('location', `/users/${user.id}`).send(toJson(user));
      },
    );
  }

  app.post(
    '/users/login',
    {
      schema: {
        summary: 'Log in; the token in the answer is sent as Authorization: Bearer <token>',
        description:
          'Failed logins slow further attempts, never lock others out: past LOGIN_FREE_FAILURES ' +
          'of one address on one account, its next attempt there waits LOGIN_DELAY_BASE_MS, ' +
          'doubling with each failure up to LOGIN_DELAY_MAX_MS; past LOGIN_ACCOUNT_FREE_FAILURES ' +
          'on one account (each address counting at most LOGIN_FREE_FAILURES), every attempt on ' +
          'it waits, except from an address it logged in from. An attempt during a wait is 429 ' +
          'with Retry-After whatever the password, and does not count.',
        tags: [TAG],
        body: {
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
        },
        response: {
          200: {
            type: 'object',
            properties: {
              access_token: { type: 'string' },
              token_type: { type: 'string', enum: ['bearer'] },
              session_id: { type: 'string' },
              expires_at: { type: 'string', format: 'date-time' },
              user: userJson,
            },
          },
          401: schemas.problem,
          422: schemas.problem,
          429: schemas.problem,
        },
      },
    },
    async (request) => {
      const { username, password } = request.body as { username: string; password: string };
      const result = await users.login(username, password, contextOf(request));
      return {
        access_token: result.token,
        token_type: 'bearer',
        session_id: result.session.id,
        expires_at: result.session.expiresAt,
        user: toJson(result.user),
      };
    },
  );

  app.post(
    '/users/logout',
    {
      schema: {
        summary: 'Log out: revokes the session this request is made with',
        tags: [TAG],
        security: bearer,
        response: { 204: { type: 'null', description: 'logged out' }, 401: schemas.problem },
      },
    },
    async (request, reply) => {
      await users.logout(actorOf(request));
      return reply.code(204).send();
    },
  );

  app.get(
    '/users/:id',
    {
      schema: {
        summary: 'A user (admins: anyone; others: only themselves)',
        tags: [TAG],
        security: bearer,
        params: idParams,
        response: {
          200: userJson,
          401: schemas.problem,
          403: schemas.problem,
          404: schemas.problem,
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return toJson(await users.get(actorOf(request), id));
    },
  );

  app.put(
    '/users/:id',
    {
      schema: {
        summary: 'Change a user (admins: anyone; users: themselves; guests: nobody)',
        description:
          'Only the fields sent change; null clears full_name, age or phone. A new password ' +
          'revokes every other session of the user.',
        tags: [TAG],
        security: bearer,
        params: idParams,
        body: {
          type: 'object',
          minProperties: 1,
          properties: userFields,
          examples: [{ username: 'john_updated', email: 'john.updated@example.com' }],
        },
        response: {
          200: userJson,
          401: schemas.problem,
          403: schemas.problem,
          404: schemas.problem,
          409: schemas.problem,
          422: schemas.problem,
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return toJson(
        await users.update(actorOf(request), id, request.body as UserUpdate, contextOf(request)),
      );
    },
  );

  app.delete(
    '/users/:id',
    {
      schema: {
        summary: 'Delete a user (admins: anyone; users: themselves), with its sessions',
        tags: [TAG],
        security: bearer,
        params: idParams,
        response: {
          204: { type: 'null', description: 'deleted' },
          401: schemas.problem,
          403: schemas.problem,
          404: schemas.problem,
          409: schemas.problem,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await users.delete(actorOf(request), id, contextOf(request));
      return reply.code(204).send();
    },
  );

  app.get(
    '/users/:id/sessions',
    {
      schema: {
        summary: 'Live sessions of a user (yourself, or anyone for an admin)',
        tags: [TAG],
        security: bearer,
        params: idParams,
        response: {
          200: { type: 'object', properties: { sessions: { type: 'array', items: sessionJson } } },
          401: schemas.problem,
          403: schemas.problem,
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const actor = actorOf(request);
      const sessions = await users.sessions(actor, id);
      return { sessions: sessions.map((s) => sessionToJson(s, actor)) };
    },
  );

  app.delete(
    '/users/:id/sessions/:session_id',
    {
      schema: {
        summary: 'Revoke a session (yours, or anyone’s for an admin); it stops working at once',
        tags: [TAG],
        security: bearer,
        params: {
          type: 'object',
          required: ['id', 'session_id'],
          properties: {
            id: idParams.properties.id,
            session_id: { type: 'string', minLength: 1, maxLength: 64 },
          },
        },
        response: {
          204: { type: 'null', description: 'revoked' },
          401: schemas.problem,
          403: schemas.problem,
          404: schemas.problem,
        },
      },
    },
    async (request, reply) => {
      const { id, session_id: sessionId } = request.params as { id: string; session_id: string };
      await users.revokeSession(actorOf(request), id, sessionId);
      return reply.code(204).send();
    },
  );

  app.get(
    '/users/:id/preferences',
    {
      schema: {
        summary: 'Notification opt-outs of a user, per channel',
        tags: [TAG],
        security: bearer,
        params: idParams,
        response: {
          200: preferencesJson,
          401: schemas.problem,
          403: schemas.problem,
          404: schemas.problem,
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return users.preferences(actorOf(request), id);
    },
  );

  app.put(
    '/users/:id/preferences',
    {
      schema: {
        summary: 'Turn notification channels on or off; channels not sent keep their setting',
        tags: [TAG],
        security: bearer,
        params: idParams,
        body: {
          ...preferencesJson,
          minProperties: 1,
          additionalProperties: false,
          examples: [{ sms: false }],
        },
        response: {
          200: preferencesJson,
          401: schemas.problem,
          403: schemas.problem,
          404: schemas.problem,
          422: schemas.problem,
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return users.setPreferences(actorOf(request), id, request.body as Record<string, boolean>);
    },
  );
}
