import type { Role, User } from '../../../domain/users.ts';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import type { Database, SqlExecutor } from '../../../ports/database.ts';
import type {
  NewUser,
  OutboxEvent,
  StoredSession,
  UserChanges,
  UserStore,
} from '../../../ports/user-store.ts';
import * as sql from './users-sql.ts';

interface UserRow {
  id: string;
  username: string;
  email: string;
  full_name: string | null;
  age: number | null;
  phone: string | null;
  role: Role;
  created_at: Date | string;
  updated_at: Date | string;
  password_hash: string;
}

interface SessionRow {
  id: string;
  user_id: string;
  created_at: Date | string;
  expires_at: Date | string;
  last_seen_at: Date | string | null;
  ip: string | null;
  user_agent: string | null;
  revoked_at: Date | string | null;
}

const iso = (v: Date | string) => new Date(v).toISOString();
const isoOrNull = (v: Date | string | null) => (v === null ? null : iso(v));

function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    fullName: row.full_name,
    age: row.age,
    phone: row.phone,
    role: row.role,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function toSession(row: SessionRow): StoredSession {
  return {
    id: row.id,
    userId: row.user_id,
    createdAt: iso(row.created_at),
    expiresAt: iso(row.expires_at),
    lastSeenAt: isoOrNull(row.last_seen_at),
    ip: row.ip,
    userAgent: row.user_agent,
    revokedAt: isoOrNull(row.revoked_at),
  };
}

/** A unique violation on users' email or username becomes a CONFLICT naming the field. */
function conflictOf(error: unknown): HeraldError | undefined {
  const e = error as { code?: string; constraint?: string; message?: string };
  if (e.code !== '23505') return undefined;
  const text = `${e.constraint ?? ''} ${e.message ?? ''}`;
  const field = text.includes('users_email')
    ? 'email'
    : text.includes('users_username')
      ? 'username'
      : undefined;
  if (field === undefined) return undefined;
  return new HeraldError(ErrorCodes.CONFLICT, `a user with this ${field} already exists`, {
    cause: error,
    details: { field },
  });
}

async function writeEvent(tx: SqlExecutor, event: OutboxEvent): Promise<void> {
  await tx.query(sql.insertOutbox, [
    event.id,
    event.topic,
    event.key,
    event.type,
    JSON.stringify(event.payload),
    JSON.stringify(event.headers),
  ]);
}

/** Users, sessions and the outbox in PostgreSQL. */
export class PostgresUserStore implements UserStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(user: NewUser, event: (user: User) => OutboxEvent): Promise<User> {
    try {
      return await this.#db.transaction(async (tx) => {
        const [row] = await tx.query<UserRow>(sql.insertUser, [
          user.id,
          user.username,
          user.email,
          user.fullName,
          user.age,
          user.phone,
          user.role,
          user.passwordHash,
        ]);
        if (row === undefined) throw new Error('INSERT … RETURNING returned nothing');
        const created = toUser(row);
        await writeEvent(tx, event(created));
        return created;
      });
    } catch (error) {
      throw conflictOf(error) ?? error;
    }
  }

  async update(
    id: string,
    changes: UserChanges,
    event: (user: User) => OutboxEvent,
  ): Promise<User> {
    try {
      return await this.#db.transaction(async (tx) => {
        const guardAdmins = changes.role !== undefined && changes.role !== 'admin';
        const adminsBefore = guardAdmins ? (await tx.query(sql.lockAdmins)).length : 0;
        const [row] = await tx.query<UserRow>(sql.updateUser, [
          id,
          changes.username ?? null,
          changes.email ?? null,
          changes.fullName ?? null,
          changes.age ?? null,
          changes.phone ?? null,
          changes.role ?? null,
          changes.passwordHash ?? null,
          'fullName' in changes,
          'age' in changes,
          'phone' in changes,
        ]);
        if (row === undefined) throw notFound(id);
        if (guardAdmins) await keepAnAdmin(tx, adminsBefore);
        const updated = toUser(row);
        await writeEvent(tx, event(updated));
        return updated;
      });
    } catch (error) {
      throw conflictOf(error) ?? error;
    }
  }

  async delete(id: string, event: (user: User) => OutboxEvent): Promise<User> {
    return this.#db.transaction(async (tx) => {
      const adminsBefore = (await tx.query(sql.lockAdmins)).length;
      const [row] = await tx.query<UserRow>(sql.deleteUser, [id]);
      if (row === undefined) throw notFound(id);
      await keepAnAdmin(tx, adminsBefore);
      const deleted = toUser(row);
      await writeEvent(tx, event(deleted));
      return deleted;
    });
  }

  async get(id: string): Promise<User | undefined> {
    const [row] = await this.#db.query<UserRow>(sql.getUser, [id]);
    return row === undefined ? undefined : toUser(row);
  }

  async list(limit: number, offset: number): Promise<User[]> {
    return (await this.#db.query<UserRow>(sql.listUsers, [limit, offset])).map(toUser);
  }

  async findCredentials(login: string) {
    const [row] = await this.#db.query<UserRow>(sql.findByLogin, [login]);
    return row === undefined ? undefined : { user: toUser(row), passwordHash: row.password_hash };
  }

  async countAdmins(): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(sql.countAdmins);
    return row?.n ?? 0;
  }

  async createSession(session: {
    id: string;
    tokenHash: string;
    userId: string;
    expiresAt: Date;
    ip: string | null;
    userAgent: string | null;
  }): Promise<void> {
    await this.#db.query(sql.deleteExpiredSessions, [session.userId]);
    await this.#db.query(sql.insertSession, [
      session.id,
      session.tokenHash,
      session.userId,
      session.expiresAt.toISOString(),
      session.ip,
      session.userAgent,
    ]);
  }

  async findSession(tokenHash: string) {
    const [row] = await this.#db.query<SessionRow & { role: Role }>(sql.touchSession, [tokenHash]);
    return row === undefined ? undefined : { session: toSession(row), role: row.role };
  }

  async listSessions(userId: string): Promise<StoredSession[]> {
    return (await this.#db.query<SessionRow>(sql.listSessions, [userId])).map(toSession);
  }

  async revokeSession(userId: string, sessionId: string): Promise<boolean> {
    return (await this.#db.query(sql.revokeSession, [sessionId, userId])).length > 0;
  }

  async revokeSessions(userId: string, exceptSessionId?: string): Promise<number> {
    return (await this.#db.query(sql.revokeSessions, [userId, exceptSessionId ?? null])).length;
  }

  async loginFailures(keys: string[], windowMs: number, except?: string) {
    const rows = await this.#db.query<{ scope_key: string; n: number; ms_since_latest: number }>(
      sql.countLoginFailures,
      [keys, windowMs, except ?? null],
    );
    return new Map(
      rows.map((r) => [r.scope_key, { count: r.n, msSinceLatest: Number(r.ms_since_latest) }]),
    );
  }

  async recordLoginFailure(
    attempt: { account: string; accountAddress: string; attemptId: string; accountShare: number },
    windowMs: number,
  ): Promise<void> {
    await this.#db.query(sql.pruneLoginFailures, [windowMs]);
    await this.#db.query(sql.insertLoginFailure, [
      attempt.accountAddress,
      attempt.account,
      attempt.attemptId,
      attempt.accountShare,
      windowMs,
    ]);
  }

  async forgetLoginAttempt(attemptId: string): Promise<void> {
    await this.#db.query(sql.forgetLoginAttempt, [attemptId]);
  }

  async clearLoginFailures(accountAddress: string): Promise<void> {
    await this.#db.query(sql.clearLoginFailures, [accountAddress]);
  }

  async loggedInFrom(userId: string, ip: string, withinMs: number): Promise<boolean> {
    const [row] = await this.#db.query<{ found: boolean }>(sql.loggedInFrom, [
      userId,
      ip,
      withinMs,
    ]);
    return row?.found === true;
  }

  async preferences(userId: string): Promise<Record<string, boolean>> {
    const rows = await this.#db.query<{ channel: string; enabled: boolean }>(sql.getPreferences, [
      userId,
    ]);
    return Object.fromEntries(rows.map((r) => [r.channel, r.enabled]));
  }

  async setPreferences(userId: string, preferences: Record<string, boolean>): Promise<void> {
    await this.#db.transaction(async (tx) => {
      for (const [channel, enabled] of Object.entries(preferences)) {
        await tx.query(sql.upsertPreference, [userId, channel, enabled]);
      }
    });
  }
}

/** Refuses (rolling back) a change that took away the last admin, when there was one. */
async function keepAnAdmin(tx: SqlExecutor, adminsBefore: number): Promise<void> {
  if (adminsBefore === 0) return;
  const [left] = await tx.query<{ n: number }>(sql.countAdmins);
  if ((left?.n ?? 0) === 0) {
    throw new HeraldError(ErrorCodes.CONFLICT, 'the last admin cannot be deleted or demoted', {
      details: { field: 'role' },
    });
  }
}

function notFound(id: string): HeraldError {
  return new HeraldError(ErrorCodes.NOT_FOUND, `no user with id "${id}"`, { details: { id } });
}
