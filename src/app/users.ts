import { uuidv7 } from '../domain/ids.ts';
import { type LoginThrottling, loginKeys, waitLeft } from '../domain/login-throttling.ts';
import {
  type Actor,
  dummyPasswordHash,
  generateSessionToken,
  hashPassword,
  hashSessionToken,
  looksLikeSessionToken,
  mayAssignRole,
  mayRead,
  mayWrite,
  type Role,
  type ScryptParams,
  USER_EVENTS,
  USERS_TOPIC,
  type User,
  userEventView,
  userFieldProblems,
  verifyPassword,
} from '../domain/users.ts';
import { ErrorCodes, HeraldError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { OutboxEvent, StoredSession, UserStore } from '../ports/user-store.ts';

export interface UserInput {
  username: string;
  email: string;
  password: string;
  role?: Role;
  age?: number | null;
  full_name?: string | null;
  phone?: string | null;
}

export type UserUpdate = Partial<UserInput>;

export interface UserServiceOptions {
  sessionTtlMs: number;
  openRegistration: boolean;
  /** How failed logins slow further attempts (domain/login-throttling.ts). */
  login: LoginThrottling;
  /** scrypt parameters for new hashes; defaults to DEFAULT_SCRYPT. */
  scrypt?: ScryptParams;
  /** Called after a transaction with an outbox event commits (wakes the relay in-process). */
  onEvent?: () => void;
}

export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
  correlationId?: string;
}

export interface LoginResult {
  token: string;
  session: { id: string; expiresAt: string };
  user: User;
}

export const NOTIFY_CHANNELS = ['email', 'sms', 'push'] as const;

const forbidden = (message: string) => new HeraldError(ErrorCodes.FORBIDDEN, message);

/** VALIDATION naming every bad field (`details.errors`), as HTTP answers 422 with them. */
function checkFields(input: Parameters<typeof userFieldProblems>[0]): void {
  const errors = userFieldProblems(input);
  if (errors.length > 0) {
    throw new HeraldError(
      ErrorCodes.VALIDATION,
      `invalid ${errors.map((e) => e.field).join(', ')}`,
      { details: { errors } },
    );
  }
}
const notFound = (id: string) =>
  new HeraldError(ErrorCodes.NOT_FOUND, `no user with id "${id}"`, { details: { id } });

/**
 * The user service: accounts, roles, logins and sessions. Every change commits a
 * `user.created` / `user.updated` / `user.deleted` event to the outbox in the same transaction.
 *
 * @example
 * const user = await users.create({ username: 'ada', email: 'ada@example.com', password: '…' }, undefined, ctx);
 * const { token } = await users.login('ada', '…', ctx);
 * const actor = await users.authenticate(token); // → { userId, role: 'user', sessionId }
 */
export class UserService {
  readonly #store: UserStore;
  readonly #options: UserServiceOptions;
  readonly #logger: Logger;

  constructor(store: UserStore, logger: Logger, options: UserServiceOptions) {
    this.#store = store;
    this.#logger = logger;
    this.#options = options;
  }

  async create(input: UserInput, actor: Actor | undefined, ctx: RequestContext): Promise<User> {
    checkFields(input);
    const role = input.role ?? 'user';
    if (actor?.role !== 'admin' && !this.#options.openRegistration) {
      throw forbidden('only admins create users (USERS_OPEN_REGISTRATION is off)');
    }
    if (!mayAssignRole(actor, role)) throw forbidden('only an admin may create an admin');
    const user = await this.#store.create(
      {
        id: uuidv7(),
        username: input.username,
        email: input.email,
        fullName: input.full_name ?? null,
        age: input.age ?? null,
        phone: input.phone ?? null,
        role,
        passwordHash: await hashPassword(input.password, this.#options.scrypt),
      },
      (created) => this.#event(USER_EVENTS.created, created, ctx),
    );
    this.#logger.info({ userId: user.id, role, correlationId: ctx.correlationId }, 'user created');
    this.#options.onEvent?.();
    return user;
  }

  async get(actor: Actor, id: string): Promise<User> {
    if (!mayRead(actor, id)) throw forbidden('a user may only read itself');
    const user = await this.#store.get(id);
    if (user === undefined) throw notFound(id);
    return user;
  }

  /** Admins see every user; anyone else sees a list holding only itself. */
  async list(actor: Actor, limit: number, offset: number): Promise<User[]> {
    if (actor.role === 'admin') return this.#store.list(limit, offset);
    const self = await this.#store.get(actor.userId);
    return self === undefined || offset > 0 ? [] : [self];
  }

  async update(actor: Actor, id: string, input: UserUpdate, ctx: RequestContext): Promise<User> {
    if (!mayWrite(actor, id)) {
      throw forbidden(
        actor.role === 'guest' ? 'guests are read-only' : 'a user may only edit itself',
      );
    }
    if (input.role !== undefined && actor.role !== 'admin') {
      throw forbidden('only an admin may change a role');
    }
    checkFields(input);
    const changed = Object.keys(input).filter(
      (k) => (input as Record<string, unknown>)[k] !== undefined,
    );
    const user = await this.#store.update(
      id,
      {
        ...(input.username !== undefined ? { username: input.username } : {}),
        ...(input.email !== undefined ? { email: input.email } : {}),
        ...(input.full_name !== undefined ? { fullName: input.full_name } : {}),
        ...(input.age !== undefined ? { age: input.age } : {}),
        ...(input.phone !== undefined ? { phone: input.phone } : {}),
        ...(input.role !== undefined ? { role: input.role } : {}),
        ...(input.password !== undefined
          ? { passwordHash: await hashPassword(input.password, this.#options.scrypt) }
          : {}),
      },
      (updated) => this.#event(USER_EVENTS.updated, updated, ctx, { changed }),
    );
    if (input.password !== undefined) {
      // A new password ends every other session: whoever knew the old one is logged out.
      const revoked = await this.#store.revokeSessions(
        id,
        actor.userId === id ? actor.sessionId : undefined,
      );
      this.#logger.info({ userId: id, revoked }, 'sessions revoked after a password change');
    }
    this.#logger.info({ userId: id, changed, correlationId: ctx.correlationId }, 'user updated');
    this.#options.onEvent?.();
    return user;
  }

  async delete(actor: Actor, id: string, ctx: RequestContext): Promise<void> {
    if (!mayWrite(actor, id)) {
      throw forbidden(
        actor.role === 'guest' ? 'guests are read-only' : 'a user may only delete itself',
      );
    }
    await this.#store.delete(id, (deleted) => this.#event(USER_EVENTS.deleted, deleted, ctx));
    this.#logger.info({ userId: id, correlationId: ctx.correlationId }, 'user deleted');
    this.#options.onEvent?.();
  }

  /**
   * Checks a password and opens a session. Failures slow further attempts with growing waits
   * (domain/login-throttling.ts): of this address on this account, and of anyone on an account
   * many addresses failed at, except an address the account recently logged in from. An
   * attempt during a wait is refused (RATE_LIMITED, with when to retry) without its password
   * being checked, and does not count.
   *
   * The attempt is counted as a failure before the password is checked and forgotten if it
   * was right: of two parallel guesses at least one sees the other, so no more than the free
   * failures are ever checked before a wait.
   */
  async login(login: string, password: string, ctx: RequestContext): Promise<LoginResult> {
    const policy = this.#options.login;
    const found = await this.#store.findCredentials(login);
    // One account, one counter, whether it is named by username or by email.
    const keys = loginKeys(found?.user.id ?? login.toLowerCase(), ctx.ip);
    const attemptId = uuidv7();
    await this.#store.recordLoginFailure(
      { ...keys, attemptId, accountShare: policy.freeFailures },
      policy.windowMs,
    );
    const failures = await this.#store.loginFailures(
      [keys.account, keys.accountAddress],
      policy.windowMs,
      attemptId,
    );
    const fromAddress = waitLeft(failures.get(keys.accountAddress), policy.freeFailures, policy);
    let onAccount = waitLeft(failures.get(keys.account), policy.accountFreeFailures, policy);
    if (onAccount > 0 && found !== undefined && ctx.ip !== null) {
      // The owner, back where it logged in before, is not held back by others' guesses.
      if (await this.#store.loggedInFrom(found.user.id, ctx.ip, policy.trustedAddressMs)) {
        onAccount = 0;
      }
    }
    if (fromAddress > 0 || onAccount > 0) {
      await this.#store.forgetLoginAttempt(attemptId);
      const retryAfterMs = Math.max(fromAddress, onAccount);
      const scope = fromAddress >= onAccount ? 'account-address' : 'account';
      this.#logger.warn(
        { scope, retryAfterMs, correlationId: ctx.correlationId },
        'login throttled',
      );
      throw new HeraldError(
        ErrorCodes.RATE_LIMITED,
        `too many failed logins; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
        { details: { retryAfterMs, scope } },
      );
    }
    const ok = await verifyPassword(
      password,
      found?.passwordHash ?? (await dummyPasswordHash(this.#options.scrypt)),
    );
    if (found === undefined || !ok) {
      this.#logger.info({ correlationId: ctx.correlationId }, 'login failed');
      throw new HeraldError(ErrorCodes.UNAUTHENTICATED, 'wrong username or password');
    }
    // The owner got in from here: this address's typos no longer count, on either counter.
    // Other addresses' failures on the account stay: a login does not reset a botnet's count.
    await this.#store.clearLoginFailures(keys.accountAddress);
    const { token, hash } = generateSessionToken();
    const id = uuidv7();
    const expiresAt = new Date(Date.now() + this.#options.sessionTtlMs);
    await this.#store.createSession({
      id,
      tokenHash: hash,
      userId: found.user.id,
      expiresAt,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
    });
    this.#logger.info({ userId: found.user.id, sessionId: id }, 'login');
    return { token, session: { id, expiresAt: expiresAt.toISOString() }, user: found.user };
  }

  /** The actor a bearer token stands for; undefined when unknown, expired or revoked. */
  async authenticate(token: string): Promise<Actor | undefined> {
    if (!looksLikeSessionToken(token)) return undefined;
    const found = await this.#store.findSession(hashSessionToken(token));
    if (found === undefined) return undefined;
    return { userId: found.session.userId, role: found.role, sessionId: found.session.id };
  }

  async logout(actor: Actor): Promise<void> {
    await this.#store.revokeSession(actor.userId, actor.sessionId);
  }

  async sessions(actor: Actor, userId: string): Promise<StoredSession[]> {
    if (!mayRead(actor, userId)) throw forbidden('a user may only list its own sessions');
    return this.#store.listSessions(userId);
  }

  /** Users revoke their own sessions (guests too: it is a safety control); admins any. */
  async revokeSession(actor: Actor, userId: string, sessionId: string): Promise<void> {
    if (!mayRead(actor, userId)) throw forbidden('a user may only revoke its own sessions');
    if (!(await this.#store.revokeSession(userId, sessionId))) {
      throw new HeraldError(ErrorCodes.NOT_FOUND, `no live session "${sessionId}"`);
    }
  }

  async preferences(actor: Actor, userId: string): Promise<Record<string, boolean>> {
    if (!mayRead(actor, userId)) throw forbidden('a user may only read its own preferences');
    if ((await this.#store.get(userId)) === undefined) throw notFound(userId);
    const stored = await this.#store.preferences(userId);
    return Object.fromEntries(NOTIFY_CHANNELS.map((c) => [c, stored[c] ?? true]));
  }

  /** Opt-outs are a user's own safety control: guests may set theirs too. */
  async setPreferences(
    actor: Actor,
    userId: string,
    preferences: Record<string, boolean>,
  ): Promise<Record<string, boolean>> {
    if (!mayRead(actor, userId)) throw forbidden('a user may only change its own preferences');
    if ((await this.#store.get(userId)) === undefined) throw notFound(userId);
    await this.#store.setPreferences(userId, preferences);
    return this.preferences(actor, userId);
  }

  /**
   * Creates the configured admin (ADMIN_EMAIL / ADMIN_PASSWORD) unless a user with that email
   * exists (its password and role are then left alone). Safe when several API processes start
   * at once. The username is the email's local part, suffixed if taken.
   */
  async ensureAdmin(email: string, password: string): Promise<'created' | 'exists'> {
    const system: Actor = { userId: 'system', role: 'admin', sessionId: 'system' };
    const base = (email.split('@')[0] ?? '').replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 48);
    const stem = /^[A-Za-z0-9]/.test(base) && base.length >= 2 ? base : `admin_${base}`;
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.#store.findCredentials(email);
      if (existing !== undefined && existing.user.email.toLowerCase() === email.toLowerCase()) {
        return 'exists';
      }
      const username = attempt === 0 ? stem : `${stem}_${attempt + 1}`;
      try {
        await this.create({ username, email, password, role: 'admin' }, system, {
          ip: null,
          userAgent: null,
        });
        this.#logger.info({ email, username }, 'admin user created from ADMIN_EMAIL');
        return 'created';
      } catch (error) {
        // Another process created it first (email), or the username is someone else's.
        if (!(error instanceof HeraldError && error.code === ErrorCodes.CONFLICT)) throw error;
      }
    }
    throw new HeraldError(ErrorCodes.CONFLICT, `could not create the admin ${email}`);
  }

  #event(
    type: string,
    user: User,
    ctx: RequestContext,
    extra: Record<string, unknown> = {},
  ): OutboxEvent {
    const id = uuidv7();
    return {
      id,
      topic: USERS_TOPIC,
      key: user.id,
      type,
      payload: {
        event_id: id,
        type,
        occurred_at: new Date().toISOString(),
        user: userEventView(user),
        ...extra,
      },
      headers: ctx.correlationId === undefined ? {} : { correlation_id: ctx.correlationId },
    };
  }
}
