import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Actor,
  DEFAULT_SCRYPT,
  dummyPasswordHash,
  generateSessionToken,
  hashPassword,
  hashSessionToken,
  looksLikeSessionToken,
  mayAssignRole,
  mayRead,
  mayWrite,
  userEventView,
  userFieldProblems,
  verifyPassword,
} from '../../src/domain/users.ts';

// Cheap parameters: the format and the comparison are under test, not scrypt's cost.
const CHEAP = { logN: 4, r: 8, p: 1 };

const admin: Actor = { userId: 'a', role: 'admin', sessionId: 's-a' };
const user: Actor = { userId: 'u', role: 'user', sessionId: 's-u' };
const guest: Actor = { userId: 'g', role: 'guest', sessionId: 's-g' };

test('a hashed password verifies, a wrong one does not, and the hash carries its parameters and salt', async () => {
  const hash = await hashPassword('SecurePass123', CHEAP);
  assert.match(hash, /^scrypt\$4\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  assert.ok(!hash.includes('SecurePass123'));
  assert.equal(await verifyPassword('SecurePass123', hash), true);
  assert.equal(await verifyPassword('SecurePass124', hash), false);
  assert.equal(await verifyPassword('', hash), false);
  const again = await hashPassword('SecurePass123', CHEAP);
  assert.notEqual(again, hash, 'a fresh salt per hash');
  assert.equal(await verifyPassword('SecurePass123', again), true);
});

test('passwords are compared after NFKC normalization (the same text typed two ways matches)', async () => {
  const composed = 'caf\u00e9-passw0rd';
  const decomposed = 'cafe\u0301-passw0rd';
  const hash = await hashPassword(composed, CHEAP);
  assert.equal(await verifyPassword(decomposed, hash), true);
});

test('a malformed or absurdly expensive stored hash never verifies (and allocates nothing)', async () => {
  const hash = await hashPassword('SecurePass123', CHEAP);
  assert.equal(await verifyPassword('SecurePass123', 'not-a-hash'), false);
  assert.equal(await verifyPassword('SecurePass123', hash.replace('$4$', '$40$')), false);
  assert.equal(await verifyPassword('SecurePass123', hash.replace('$8$1$', '$8$99$')), false);
  assert.equal(await verifyPassword('SecurePass123', hash.slice(0, -2)), false, 'truncated key');
});

test('the default cost is scrypt N=2^15, r=8, p=1 and hashes with it verify', async () => {
  assert.deepEqual(DEFAULT_SCRYPT, { logN: 15, r: 8, p: 1 });
  const hash = await hashPassword('SecurePass123');
  assert.match(hash, /^scrypt\$15\$8\$1\$/);
  assert.equal(await verifyPassword('SecurePass123', hash), true);
});

test('the dummy hash (for unknown accounts) uses the parameters it is asked for and matches nothing guessable', async () => {
  const cheap = await dummyPasswordHash(CHEAP);
  assert.match(cheap, /^scrypt\$4\$8\$1\$/);
  assert.equal(await dummyPasswordHash(CHEAP), cheap, 'computed once per parameters');
  assert.equal(await verifyPassword('', cheap), false);
  assert.equal(await verifyPassword('password', cheap), false);
});

test('session tokens are 256 random bits in base64url; only their SHA-256 is stored', () => {
  const { token, hash } = generateSessionToken();
  assert.equal(token.length, 43);
  assert.equal(looksLikeSessionToken(token), true);
  assert.equal(hash, hashSessionToken(token));
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.ok(!hash.includes(token));
  const tokens = new Set(Array.from({ length: 1000 }, () => generateSessionToken().token));
  assert.equal(tokens.size, 1000);
  assert.equal(looksLikeSessionToken('hk_abcdefghijkl_xyz'), false, 'API keys are not sessions');
  assert.equal(looksLikeSessionToken(`${token}x`), false);
});

test('reading: admins read anyone; users and guests only themselves', () => {
  assert.equal(mayRead(admin, 'u'), true);
  assert.equal(mayRead(admin, 'a'), true);
  assert.equal(mayRead(user, 'u'), true);
  assert.equal(mayRead(user, 'a'), false);
  assert.equal(mayRead(guest, 'g'), true);
  assert.equal(mayRead(guest, 'u'), false);
});

test('writing: admins change anyone, users only themselves, guests nobody (not even themselves)', () => {
  assert.equal(mayWrite(admin, 'u'), true);
  assert.equal(mayWrite(user, 'u'), true);
  assert.equal(mayWrite(user, 'g'), false);
  assert.equal(mayWrite(guest, 'g'), false);
  assert.equal(mayWrite(guest, 'u'), false);
});

test('only an admin gives the admin role; anyone may create a user or a guest', () => {
  assert.equal(mayAssignRole(undefined, 'user'), true);
  assert.equal(mayAssignRole(undefined, 'guest'), true);
  assert.equal(mayAssignRole(undefined, 'admin'), false);
  assert.equal(mayAssignRole(user, 'admin'), false);
  assert.equal(mayAssignRole(guest, 'admin'), false);
  assert.equal(mayAssignRole(admin, 'admin'), true);
});

test('field checks name every invalid field and pass the seed example', () => {
  assert.deepEqual(
    userFieldProblems({
      username: 'john_doe',
      email: 'john@example.com',
      password: 'SecurePass123',
      role: 'user',
      age: 25,
      full_name: 'John Doe',
    }),
    [],
  );
  const problems = userFieldProblems({
    username: 'x',
    email: 'not-an-email',
    password: 'short',
    role: 'root',
    age: 25.5,
    full_name: 'x'.repeat(201),
    phone: '555-1234',
  });
  assert.deepEqual(
    problems.map((p) => p.field),
    ['username', 'email', 'password', 'role', 'age', 'full_name', 'phone'],
  );
  assert.deepEqual(userFieldProblems({ age: null, full_name: null, phone: '+14155550123' }), []);
});

test('user events carry the user without any secret', () => {
  const view = userEventView({
    id: 'u1',
    username: 'ada',
    email: 'ada@example.com',
    fullName: 'Ada L',
    age: 36,
    phone: null,
    role: 'user',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  });
  assert.deepEqual(Object.keys(view).sort(), [
    'age',
    'created_at',
    'email',
    'full_name',
    'id',
    'phone',
    'role',
    'updated_at',
    'username',
  ]);
});
