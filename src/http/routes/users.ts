import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyService } from '../../app/api-keys.ts';
import type { RequestContext, UserInput, UserService, UserUpdate } from '../../app/users.ts';
import { grants } from '../../domain/api-keys.ts';
import { type Actor, looksLikeSessionToken, userEventView } from '../../domain/users.ts';
import { ErrorCodes, HeraldError } from '../../errors.ts';
import { noContent, problem } from '../api-schemas/common.ts';
import * as api from '../api-schemas/users.ts';
import { bearerToken } from '../auth.ts';

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

function contextOf(request: FastifyRequest): RequestContext {
  const agent = request.headers['user-agent'];
  return {
    ip: request.ip ?? null,
    userAgent: typeof agent === 'string' ? agent.slice(0, 512) : null,
    correlationId: request.id,
  };
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
          security: api.bearer,
          querystring: api.listQuery,
          response: { 200: api.listResponse, 401: problem },
        },
      },
      async (request) => {
        const { limit, offset } = request.query as { limit: number; offset: number };
        return (await users.list(actorOf(request), limit, offset)).map(userEventView);
      },
    );

    app.post(
      url,
      {
        schema: {
          hide,
          summary: 'Create a user (sign-up when USERS_OPEN_REGISTRATION is on; admins always)',
          tags: [TAG],
          body: api.createBody,
          response: { 201: api.userJson, 403: problem, 409: problem, 422: problem },
        },
      },
      async (request, reply) => {
        const user = await users.create(
          request.body as UserInput,
          request.actor,
          contextOf(request),
        );
        return reply.code(201).header('location', `/users/${user.id}`).send(userEventView(user));
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
        body: api.loginBody,
        response: { 200: api.loginResponse, 401: problem, 422: problem, 429: problem },
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
        user: userEventView(result.user),
      };
    },
  );

  app.post(
    '/users/logout',
    {
      schema: {
        summary: 'Log out: revokes the session this request is made with',
        tags: [TAG],
        security: api.bearer,
        response: { 204: noContent('logged out'), 401: problem },
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
        security: api.bearer,
        params: api.idParams,
        response: { 200: api.userJson, ...api.userProblems },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return userEventView(await users.get(actorOf(request), id));
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
        security: api.bearer,
        params: api.idParams,
        body: api.updateBody,
        response: { 200: api.userJson, ...api.userProblems, 409: problem, 422: problem },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return userEventView(
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
        security: api.bearer,
        params: api.idParams,
        response: { 204: noContent('deleted'), ...api.userProblems, 409: problem },
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
        security: api.bearer,
        params: api.idParams,
        response: { 200: api.sessionsResponse, 401: problem, 403: problem },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const actor = actorOf(request);
      const sessions = await users.sessions(actor, id);
      return { sessions: sessions.map((s) => api.sessionToJson(s, actor)) };
    },
  );

  app.delete(
    '/users/:id/sessions/:session_id',
    {
      schema: {
        summary: 'Revoke a session (yours, or anyone’s for an admin); it stops working at once',
        tags: [TAG],
        security: api.bearer,
        params: api.sessionParams,
        response: { 204: noContent('revoked'), ...api.userProblems },
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
        security: api.bearer,
        params: api.idParams,
        response: { 200: api.preferences, ...api.userProblems },
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
        security: api.bearer,
        params: api.idParams,
        body: api.preferencesBody,
        response: { 200: api.preferences, ...api.userProblems, 422: problem },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return users.setPreferences(actorOf(request), id, request.body as Record<string, boolean>);
    },
  );
}
