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

  /** Failures per key within the window, and when the oldest of them leaves it. */
  loginFailures(
    keys: string[],
    windowMs: number,
  ): Promise<Map<string, { count: number; oldest: Date }>>;
  /**
   * Counts a login attempt as failed for each key (pruning failures older than the window);
   * `attemptId` lets it be forgotten if the password turns out right.
   */
  recordLoginFailure(keys: string[], windowMs: number, attemptId?: string): Promise<void>;
  forgetLoginAttempt(attemptId: string): Promise<void>;
  /** Forgets the failures of keys (an account after a successful login). */
  clearLoginFailures(keys: string[]): Promise<void>;

  preferences(userId: string): Promise<Record<string, boolean>>;
  setPreferences(userId: string, preferences: Record<string, boolean>): Promise<void>;
}
