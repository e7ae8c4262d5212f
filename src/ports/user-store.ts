import type { Role, User } from '../domain/users.ts';
import type { OutboxEvent } from './outbox.ts';

export type { OutboxEvent };

export interface NewUser {
  id: string;
  username: string;
  email: string;
  fullName: string | null;
  age: number | null;
  phone: string | null;
  role: Role;
  passwordHash: string;
}

export type UserChanges = Partial<Omit<NewUser, 'id'>>;

export interface StoredSession {
  id: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string | null;
  ip: string | null;
  userAgent: string | null;
  revokedAt: string | null;
}

/** Where users, sessions and their outbox live. Every user write commits its event with it. */
export interface UserStore {
  /** Inserts the user and its event in one transaction; CONFLICT on a taken email/username. */
  create(user: NewUser, event: (user: User) => OutboxEvent): Promise<User>;
  /** Updates the user and writes its event in one transaction; NOT_FOUND, CONFLICT. */
  update(id: string, changes: UserChanges, event: (user: User) => OutboxEvent): Promise<User>;
  /** Deletes the user (its sessions and preferences with it) and writes its event; NOT_FOUND. */
  delete(id: string, event: (user: User) => OutboxEvent): Promise<User>;
  get(id: string): Promise<User | undefined>;
  list(limit: number, offset: number): Promise<User[]>;
  /** The user and password hash for a login name (username or email, case-insensitive). */
  findCredentials(login: string): Promise<{ user: User; passwordHash: string } | undefined>;
  countAdmins(): Promise<number>;

  createSession(session: {
    id: string;
    tokenHash: string;
    userId: string;
    expiresAt: Date;
    ip: string | null;
    userAgent: string | null;
  }): Promise<void>;
  /** The live (unexpired, unrevoked) session of a token hash, with its user's role. */
  findSession(tokenHash: string): Promise<{ session: StoredSession; role: Role } | undefined>;
  listSessions(userId: string): Promise<StoredSession[]>;
  /** False when there is no such live session of that user. */
  revokeSession(userId: string, sessionId: string): Promise<boolean>;
  /** Revokes every live session of a user but `exceptSessionId`; returns how many. */
  revokeSessions(userId: string, exceptSessionId?: string): Promise<number>;

  /**
   * Failures per key within the window: how many, and how long ago (by the database's clock)
   * the latest was; `except` leaves out one attempt (the caller's own).
   */
  loginFailures(
    keys: string[],
    windowMs: number,
    except?: string,
  ): Promise<Map<string, { count: number; msSinceLatest: number }>>;
  /**
   * Counts a login attempt as failed (pruning failures older than the window), before its
   * password is checked: against `accountAddress` always, and against `account` only while the
   * address has fewer than `accountShare` failures there, so that one address alone cannot
   * drive the account's count.
   */
  recordLoginFailure(
    attempt: { account: string; accountAddress: string; attemptId: string; accountShare: number },
    windowMs: number,
  ): Promise<void>;
  /** Forgets an attempt (one that was refused unchecked, or whose password was right). */
  forgetLoginAttempt(attemptId: string): Promise<void>;
  /** Forgets an address's failures on an account, and their share of the account's count. */
  clearLoginFailures(accountAddress: string): Promise<void>;
  /** Whether the user logged in from `ip` within `withinMs` (its session is still on record). */
  loggedInFrom(userId: string, ip: string, withinMs: number): Promise<boolean>;

  preferences(userId: string): Promise<Record<string, boolean>>;
  setPreferences(userId: string, preferences: Record<string, boolean>): Promise<void>;
}
