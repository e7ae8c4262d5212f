/**
 * Users: roles, what each role may do, password hashing and session tokens.
 *
 * Passwords are hashed with scrypt (memory-hard) under a per-password salt; the parameters are
 * stored with the hash (`scrypt$<logN>$<r>$<p>$<salt>$<hash>`) so they can be raised later
 * without invalidating existing passwords. Session tokens are 32 random bytes (base64url);
 * only their SHA-256 is stored.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export const ROLES = ['admin', 'user', 'guest'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  username: string;
  email: string;
  fullName: string | null;
  age: number | null;
  phone: string | null;
  role: Role;
  createdAt: string;
  updatedAt: string;
}

/** What the session in a request stands for. */
export interface Actor {
  userId: string;
  role: Role;
  sessionId: string;
}

export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

/** N = 2^15, r = 8, p = 1: 32 MiB and ~50 ms per hash (OWASP's scrypt minimum is 2^17/8/1 at
 * 128 MiB; 2^15 keeps a 2-core API responsive while logins are rate-limited). */
export const DEFAULT_SCRYPT: ScryptParams = { logN: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.logN;
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFKC'),
      salt,
      KEY_LENGTH,
      { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

/** Hashes a password with a fresh 16-byte salt. */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return [
    'scrypt',
    params.logN,
    params.r,
    params.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

const HASH_FORMAT = /^scrypt\$(\d{1,2})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

// A stored hash names its own cost; bounded so that a tampered row cannot make one login
// allocate gigabytes.
const MAX_LOG_N = 20;
const MAX_R = 32;
const MAX_P = 16;

/** Whether `password` matches `stored`, compared in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH_FORMAT.exec(stored);
  if (m === null) return false;
  const params = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.logN < 1 || params.logN > MAX_LOG_N || params.r < 1 || params.r > MAX_R) return false;
  if (params.p < 1 || params.p > MAX_P) return false;
  const expected = Buffer.from(m[5] ?? '', 'base64url');
  const actual = await derive(password, Buffer.from(m[4] ?? '', 'base64url'), params);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

// Verified against when the account does not exist, so a wrong name costs as long as a wrong
// password (at the same parameters) and response times do not reveal which accounts exist.
const dummyHashes = new Map<string, Promise<string>>();
export function dummyPasswordHash(params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const key = `${params.logN}/${params.r}/${params.p}`;
  let hash = dummyHashes.get(key);
  if (hash === undefined) {
    hash = hashPassword(randomBytes(16).toString('hex'), params);
    dummyHashes.set(key, hash);
  }
  return hash;
}

export function generateSessionToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashSessionToken(token) };
}

/**
 * The stored form of a session token. A plain SHA-256 suffices (no salt, no KDF): the token has
 * 256 random bits, so there is nothing to guess, and looking it up by hash means comparing a
 * token never happens in application code where timing could leak it.
 */
export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether a bearer credential has the shape of a session token (43 base64url characters). */
export function looksLikeSessionToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}

/** Limits on user fields; the HTTP schemas are built from these too. */
export const USER_LIMITS = {
  usernamePattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$',
  passwordMinLength: 8,
  // scrypt's input cost grows with length; longer than this is not a password but a payload.
  passwordMaxLength: 1024,
  fullNameMaxLength: 200,
  emailMaxLength: 254,
  phonePattern: '^\\+[1-9][0-9]{6,14}$',
  ageMin: 0,
  ageMax: 150,
} as const;

export interface FieldProblem {
  field: string;
  message: string;
}

// Deliberately loose (one @, a dot in the domain, no spaces): the real check is the mail sent.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Field problems of a user's fields (for a create, or the fields present in an update); empty
 * when valid. HTTP validates the same limits by JSON Schema first; this guards other callers
 * (the ADMIN_EMAIL bootstrap, the CLI).
 */
export function userFieldProblems(input: {
  username?: unknown;
  email?: unknown;
  password?: unknown;
  role?: unknown;
  age?: unknown;
  full_name?: unknown;
  phone?: unknown;
}): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const bad = (field: string, message: string) => problems.push({ field, message });
  const { username, email, password, role, age, full_name: fullName, phone } = input;
  if (username !== undefined) {
    if (typeof username !== 'string' || !new RegExp(USER_LIMITS.usernamePattern).test(username))
      bad('username', `must match ${USER_LIMITS.usernamePattern}`);
  }
  if (email !== undefined) {
    if (
      typeof email !== 'string' ||
      email.length > USER_LIMITS.emailMaxLength ||
      !EMAIL.test(email)
    )
      bad('email', 'must be an email address');
  }
  if (password !== undefined) {
    if (
      typeof password !== 'string' ||
      password.length < USER_LIMITS.passwordMinLength ||
      password.length > USER_LIMITS.passwordMaxLength
    )
      bad(
        'password',
        `must be ${USER_LIMITS.passwordMinLength} to ${USER_LIMITS.passwordMaxLength} characters`,
      );
  }
  if (role !== undefined && !(ROLES as readonly unknown[]).includes(role)) {
    bad('role', `must be one of ${ROLES.join(', ')}`);
  }
  if (age !== undefined && age !== null) {
    if (
      typeof age !== 'number' ||
      !Number.isInteger(age) ||
      age < USER_LIMITS.ageMin ||
      age > USER_LIMITS.ageMax
    )
      bad('age', `must be an integer from ${USER_LIMITS.ageMin} to ${USER_LIMITS.ageMax}`);
  }
  if (fullName !== undefined && fullName !== null) {
    if (typeof fullName !== 'string' || fullName.length > USER_LIMITS.fullNameMaxLength)
      bad('full_name', `must be a string of at most ${USER_LIMITS.fullNameMaxLength} characters`);
  }
  if (phone !== undefined && phone !== null) {
    if (typeof phone !== 'string' || !new RegExp(USER_LIMITS.phonePattern).test(phone))
      bad('phone', 'must be an E.164 number, e.g. +14155550123');
  }
  return problems;
}

/** Reading a user: admins read anyone; others only themselves. */
export function mayRead(actor: Actor, userId: string): boolean {
  return actor.role === 'admin' || actor.userId === userId;
}

/** Changing or deleting a user: admins anyone; users themselves; guests are read-only. */
export function mayWrite(actor: Actor, userId: string): boolean {
  if (actor.role === 'admin') return true;
  return actor.role === 'user' && actor.userId === userId;
}

/**
 * Which role a creator may give a new account: anonymous sign-up and non-admins get `user`
 * or `guest`; only an admin creates admins.
 */
export function mayAssignRole(actor: Actor | undefined, role: Role): boolean {
  return role !== 'admin' || actor?.role === 'admin';
}

/**
 * A user as others see it, with no secret: the fields of `user.created` / `user.updated` /
 * `user.deleted` events and of the API's answers about users.
 */
export function userEventView(user: User): Record<string, unknown> {
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

export const USER_EVENTS = {
  created: 'user.created',
  updated: 'user.updated',
  deleted: 'user.deleted',
} as const;

/** The broker topic user events are published on. */
export const USERS_TOPIC = 'users';
