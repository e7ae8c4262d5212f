import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { loadConfig } from '../../../src/config.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { type RunningPlatform, startPlatform } from '../../../src/platform/start.ts';
import {
  type DatabaseKind,
  databaseUrl,
  dropSchema,
  POSTGRES_URL,
  uniqueSchema,
} from '../../helpers/databases.ts';
import { eventually } from '../../helpers/eventually.ts';

// Cheap scrypt: these tests are about the HTTP rules, not the hash's cost.
const CHEAP = { logN: 4, r: 8, p: 1 };
const ADMIN_EMAIL = 'root@example.com';
const ADMIN_PASSWORD = 'root-password-1';
const ADMIN_API_KEY = 'admin-key-for-users-tests-0123456789';

async function startUsersPlatform(
  settings: Record<string, string>,
  database: DatabaseKind,
): Promise<RunningPlatform & { url: string; cleanup: () => Promise<void> }> {
  const schema = uniqueSchema();
  const env = { DATABASE_URL: databaseUrl(database), DATABASE_SCHEMA: schema, READ_PORT: 'off' };
  const config = loadConfig(
    {},
    {
      ...env,
      PORT: '0',
      LOG_LEVEL: 'silent',
      WORKER_POLL_MS: '10',
      OUTBOX_POLL_MS: '20',
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
      ...settings,
    },
  );
  const platform = await startPlatform(
    config,
    createLogger(config.logLevel),
    { api: true, worker: true },
    { scrypt: CHEAP },
  );
  if (platform.url === undefined) throw new Error('no API');
  return Object.assign(platform as RunningPlatform & { url: string }, {
    cleanup: async () => {
      await platform.stop();
      if (process.env.HERALD_KEEP_TEST_DATA === undefined) {
        await dropSchema(schema, databaseUrl(database));
      }
    },
  });
}

interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
  body: any;
}

/** A login sent from another loopback address (127.0.0.0/8 is all local on Linux). */
function loginFrom(
  url: string,
  localAddress: string,
  body: { username: string; password: string },
): Promise<{ status: number }> {
  const target = new URL('/users/login', url);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      target,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

function client(url: string) {
  return async (
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(url + path, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text === '' ? undefined : JSON.parse(text),
    };
  };
}

describe('user routes over HTTP [embedded]', () => {
  let platform: Awaited<ReturnType<typeof startUsersPlatform>>;
  let call: ReturnType<typeof client>;
  let counter = 0;

  before(async () => {
    platform = await startUsersPlatform(
      {
        LOGIN_FREE_FAILURES: '3',
        LOGIN_DELAY_BASE_MS: '60000',
        ADMIN_API_KEY,
      },
      'embedded',
    );
    call = client(platform.url);
  });
  after(() => platform.cleanup());
  // Every request comes from 127.0.0.1: each test starts with no failed login on record.
  beforeEach(() => platform.db.query('DELETE FROM login_failures'));

  /** A fresh account (through the open sign-up) and a session of it. */
  async function signUp(role: 'user' | 'guest' = 'user') {
    counter++;
    const username = `${role}_${counter}_${Date.now().toString(36)}`;
    const password = `pw-${username}`;
    const created = await call('POST', '/users/', {
      body: { username, email: `${username}@example.com`, password, role },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const login = await call('POST', '/users/login', { body: { username, password } });
    assert.equal(login.status, 200);
    return { id: created.body.id as string, username, password, token: login.body.access_token };
  }

  async function adminSession() {
    const login = await call('POST', '/users/login', {
      body: { username: ADMIN_EMAIL, password: ADMIN_PASSWORD },
    });
    assert.equal(login.status, 200, 'the ADMIN_EMAIL admin exists and logs in');
    assert.equal(login.body.user.role, 'admin');
    return { id: login.body.user.id as string, token: login.body.access_token as string };
  }

  test("the seed's requests work as its clients send them (create, list, get, update, delete, login)", async () => {
    const created = await call('POST', '/users/', {
      body: {
        username: 'john_doe',
        email: 'john@example.com',
        password: 'SecurePass123',
        role: 'user',
        age: 25,
        full_name: 'John Doe',
      },
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), `/users/${created.body.id}`);
    assert.deepEqual(
      {
        username: created.body.username,
        email: created.body.email,
        role: created.body.role,
        age: created.body.age,
        full_name: created.body.full_name,
      },
      {
        username: 'john_doe',
        email: 'john@example.com',
        role: 'user',
        age: 25,
        full_name: 'John Doe',
      },
    );
    assert.equal(created.body.password, undefined);
    assert.equal(created.body.password_hash, undefined, 'no hash in answers');

    const login = await call('POST', '/users/login', {
      body: { username: 'john_doe', password: 'SecurePass123' },
    });
    assert.equal(login.status, 200);
    assert.equal(login.body.token_type, 'bearer');
    assert.match(login.body.access_token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(Date.parse(login.body.expires_at) > Date.now());
    const token = login.body.access_token;

    const list = await call('GET', '/users/', { token });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.map((u: { id: string }) => u.id),
      [created.body.id],
    );
    const one = await call('GET', `/users/${created.body.id}`, { token });
    assert.equal(one.status, 200);
    assert.equal(one.body.email, 'john@example.com');

    const updated = await call('PUT', `/users/${created.body.id}`, {
      token,
      body: { username: 'john_updated', email: 'john.updated@example.com' },
    });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.username, 'john_updated');
    assert.equal(updated.body.email, 'john.updated@example.com');
    assert.equal(updated.body.full_name, 'John Doe', 'fields not sent are kept');

    const deleted = await call('DELETE', `/users/${created.body.id}`, { token });
    assert.equal(deleted.status, 204);
    assert.equal((await call('GET', `/users/${created.body.id}`, { token })).status, 401);
  });

  test('each role against each route: admins manage all, users only themselves, guests only read themselves, anonymous nothing', async () => {
    const admin = await adminSession();
    const alice = await signUp('user');
    const bob = await signUp('user');
    const gina = await signUp('guest');
    const victim = await signUp('user');
    const leaver = await signUp('user');
    const aliceSessions = await call('GET', `/users/${alice.id}/sessions`, { token: alice.token });
    const aliceSession = aliceSessions.body.sessions[0].id as string;

    const cases: [string, string, string, string | undefined, unknown, number][] = [
      // [who, method, path, token, body, expected status]
      ['anonymous', 'GET', '/users/', undefined, undefined, 401],
      ['anonymous', 'GET', `/users/${alice.id}`, undefined, undefined, 401],
      ['anonymous', 'PUT', `/users/${alice.id}`, undefined, { age: 1 }, 401],
      ['anonymous', 'DELETE', `/users/${alice.id}`, undefined, undefined, 401],
      ['anonymous', 'GET', `/users/${alice.id}/sessions`, undefined, undefined, 401],
      ['anonymous', 'GET', `/users/${alice.id}/preferences`, undefined, undefined, 401],
      ['anonymous', 'POST', '/users/logout', undefined, undefined, 401],
      ['guest', 'GET', `/users/${gina.id}`, gina.token, undefined, 200],
      ['guest', 'GET', `/users/${alice.id}`, gina.token, undefined, 403],
      ['guest', 'PUT', `/users/${gina.id}`, gina.token, { age: 30 }, 403],
      ['guest', 'PUT', `/users/${alice.id}`, gina.token, { age: 30 }, 403],
      ['guest', 'DELETE', `/users/${gina.id}`, gina.token, undefined, 403],
      ['guest', 'GET', `/users/${gina.id}/sessions`, gina.token, undefined, 200],
      ['guest', 'GET', `/users/${alice.id}/sessions`, gina.token, undefined, 403],
      ['guest', 'PUT', `/users/${gina.id}/preferences`, gina.token, { email: false }, 200],
      ['guest', 'GET', `/users/${alice.id}/preferences`, gina.token, undefined, 403],
      ['user', 'GET', `/users/${alice.id}`, alice.token, undefined, 200],
      ['user', 'GET', `/users/${bob.id}`, alice.token, undefined, 403],
      ['user', 'PUT', `/users/${alice.id}`, alice.token, { full_name: 'Alice' }, 200],
      ['user', 'PUT', `/users/${bob.id}`, alice.token, { full_name: 'Bob?' }, 403],
      ['user', 'PUT', `/users/${alice.id}`, alice.token, { role: 'admin' }, 403],
      ['user', 'PUT', `/users/${alice.id}`, alice.token, { role: 'guest' }, 403],
      ['user', 'DELETE', `/users/${bob.id}`, alice.token, undefined, 403],
      ['user', 'DELETE', `/users/${leaver.id}`, leaver.token, undefined, 204],
      ['user', 'GET', `/users/${bob.id}/sessions`, alice.token, undefined, 403],
      ['user', 'DELETE', `/users/${alice.id}/sessions/${aliceSession}`, bob.token, undefined, 403],
      ['user', 'GET', `/users/${bob.id}/preferences`, alice.token, undefined, 403],
      ['user', 'PUT', `/users/${bob.id}/preferences`, alice.token, { sms: false }, 403],
      ['user', 'PUT', `/users/${alice.id}/preferences`, alice.token, { sms: false }, 200],
      ['user', 'POST', '/users/', alice.token, newUser('by_alice', 'admin'), 403],
      ['anonymous', 'POST', '/users/', undefined, newUser('anon_admin', 'admin'), 403],
      ['admin', 'GET', `/users/${alice.id}`, admin.token, undefined, 200],
      ['admin', 'PUT', `/users/${bob.id}`, admin.token, { role: 'guest' }, 200],
      ['admin', 'GET', `/users/${bob.id}/sessions`, admin.token, undefined, 200],
      ['admin', 'GET', `/users/${bob.id}/preferences`, admin.token, undefined, 200],
      ['admin', 'PUT', `/users/${bob.id}/preferences`, admin.token, { push: false }, 200],
      ['admin', 'POST', '/users/', admin.token, newUser('second_admin', 'admin'), 201],
      ['admin', 'DELETE', `/users/${victim.id}`, admin.token, undefined, 204],
      ['admin', 'GET', `/users/${victim.id}`, admin.token, undefined, 404],
    ];
    const wrong: string[] = [];
    for (const [who, method, path, token, body, expected] of cases) {
      const answer = await call(method, path, {
        ...(token === undefined ? {} : { token }),
        ...(body === undefined ? {} : { body }),
      });
      if (answer.status !== expected) {
        wrong.push(`${who} ${method} ${path} → ${answer.status}, expected ${expected}`);
      }
      if (answer.status >= 400) {
        assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
      }
      if (answer.status === 401) {
        assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
      }
    }
    assert.deepEqual(wrong, []);

    const listedByAdmin = await call('GET', '/users/?limit=1000', { token: admin.token });
    assert.ok(listedByAdmin.body.length >= 5, 'admins list everyone');
    const listedByGuest = await call('GET', '/users/', { token: gina.token });
    assert.deepEqual(
      listedByGuest.body.map((u: { id: string }) => u.id),
      [gina.id],
      'anyone else lists only itself',
    );
    assert.equal(
      (await call('GET', `/users/${bob.id}`, { token: bob.token })).body.role,
      'guest',
      'a role change takes effect on live sessions at once',
    );
    assert.equal(
      (await call('PUT', `/users/${bob.id}`, { token: bob.token, body: { age: 3 } })).status,
      403,
      'bob, now a guest, is read-only',
    );
  });

  function newUser(username: string, role: string) {
    return { username, email: `${username}@example.com`, password: 'a-long-password', role };
  }

  test('a wrong password, an unknown user and a malformed token are 401 and open nothing', async () => {
    const alice = await signUp();
    const wrong = await call('POST', '/users/login', {
      body: { username: alice.username, password: 'not-the-password' },
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.access_token, undefined);
    const unknown = await call('POST', '/users/login', {
      body: { username: 'nobody-here', password: 'whatever-pass' },
    });
    assert.equal(unknown.status, 401);
    assert.equal(
      unknown.body.detail,
      wrong.body.detail,
      'the same answer: accounts are not revealed',
    );
    for (const token of ['garbage', 'x'.repeat(43), `${alice.token}x`, 'hk_abcdefghijkl_nope']) {
      assert.equal((await call('GET', `/users/${alice.id}`, { token })).status, 401, token);
    }
    const byEmail = await call('POST', '/users/login', {
      body: { username: `${alice.username.toUpperCase()}@EXAMPLE.COM`, password: alice.password },
    });
    assert.equal(byEmail.status, 200, 'the login name may be the email, in any case');
  });

  test('expired and revoked sessions are refused; logout and revocation take effect at once', async () => {
    const alice = await signUp();
    const second = await call('POST', '/users/login', {
      body: { username: alice.username, password: alice.password },
    });
    const third = await call('POST', '/users/login', {
      body: { username: alice.username, password: alice.password },
    });
    const listed = await call('GET', `/users/${alice.id}/sessions`, { token: alice.token });
    assert.equal(listed.body.sessions.length, 3);
    assert.equal(listed.body.sessions.filter((s: { current: boolean }) => s.current).length, 1);
    assert.ok(listed.body.sessions.every((s: { ip: string }) => s.ip === '127.0.0.1'));

    await platform.db.query(
      `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [second.body.session_id],
    );
    const expired = await call('GET', `/users/${alice.id}`, { token: second.body.access_token });
    assert.equal(expired.status, 401);
    assert.match(expired.body.detail, /expired/);

    const revoked = await call('DELETE', `/users/${alice.id}/sessions/${third.body.session_id}`, {
      token: alice.token,
    });
    assert.equal(revoked.status, 204);
    assert.equal(
      (await call('GET', `/users/${alice.id}`, { token: third.body.access_token })).status,
      401,
    );
    assert.equal(
      (
        await call('DELETE', `/users/${alice.id}/sessions/${third.body.session_id}`, {
          token: alice.token,
        })
      ).status,
      404,
      'a revoked session cannot be revoked again',
    );

    assert.equal((await call('POST', '/users/logout', { token: alice.token })).status, 204);
    assert.equal((await call('GET', `/users/${alice.id}`, { token: alice.token })).status, 401);
    assert.equal((await call('POST', '/users/logout', { token: alice.token })).status, 401);
    const again = await call('POST', '/users/login', {
      token: alice.token,
      body: { username: alice.username, password: alice.password },
    });
    assert.equal(again.status, 200, 'a client still sending the dead token can log in again');
  });

  test('a new password logs out every other session of the user, the current one stays', async () => {
    const alice = await signUp();
    const other = await call('POST', '/users/login', {
      body: { username: alice.username, password: alice.password },
    });
    const changed = await call('PUT', `/users/${alice.id}`, {
      token: alice.token,
      body: { password: 'a-brand-new-password' },
    });
    assert.equal(changed.status, 200);
    assert.equal((await call('GET', `/users/${alice.id}`, { token: alice.token })).status, 200);
    assert.equal(
      (await call('GET', `/users/${alice.id}`, { token: other.body.access_token })).status,
      401,
    );
    const oldPassword = await call('POST', '/users/login', {
      body: { username: alice.username, password: alice.password },
    });
    assert.equal(oldPassword.status, 401);
    const newPassword = await call('POST', '/users/login', {
      body: { username: alice.username, password: 'a-brand-new-password' },
    });
    assert.equal(newPassword.status, 200);
  });

  test('past the free failures an address waits on that account (429 + Retry-After, even with the right password); other accounts from it and that account from elsewhere are not refused', async () => {
    const alice = await signUp();
    const bob = await signUp();
    for (let i = 0; i < 3; i++) {
      const wrong = await call('POST', '/users/login', {
        body: { username: alice.username, password: `wrong-${i}` },
      });
      assert.equal(wrong.status, 401);
    }
    const limited = await call('POST', '/users/login', {
      body: { username: alice.username, password: alice.password },
    });
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter > 50 && retryAfter <= 60, `Retry-After ${retryAfter}s: the first wait`);
    const byEmail = await call('POST', '/users/login', {
      body: { username: `${alice.username}@example.com`, password: alice.password },
    });
    assert.equal(byEmail.status, 429, 'the same account by its email shares the count');
    const other = await call('POST', '/users/login', {
      body: { username: bob.username, password: bob.password },
    });
    assert.equal(other.status, 200, 'another account from the same address is not refused');
    const elsewhere = await loginFrom(platform.url, '127.0.0.2', {
      username: alice.username,
      password: alice.password,
    });
    assert.equal(elsewhere.status, 200, 'the same account from another address is not refused');
    assert.equal(
      (await call('GET', `/users/${alice.id}`, { token: alice.token })).status,
      200,
      'live sessions are not affected',
    );
  });

  test('a flood of failed logins from one address at many accounts refuses no one’s right password from it', async () => {
    const carol = await signUp();
    for (let i = 0; i < 20; i++) {
      for (let j = 0; j < 4; j++) {
        const guess = await call('POST', '/users/login', {
          body: { username: `nobody-${i}`, password: `wrong-pass-${j}` },
        });
        assert.equal(guess.status, j < 3 ? 401 : 429);
      }
    }
    const ok = await call('POST', '/users/login', {
      body: { username: carol.username, password: carol.password },
    });
    assert.equal(ok.status, 200);
  });

  test('a successful login clears the account’s earlier failures', async () => {
    const alice = await signUp();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) {
        await call('POST', '/users/login', {
          body: { username: alice.username, password: 'nope-nope' },
        });
      }
      const ok = await call('POST', '/users/login', {
        body: { username: alice.username, password: alice.password },
      });
      assert.equal(ok.status, 200, `round ${round}: 2 failures, then in`);
    }
  });

  test('a taken email or username is 409 naming the field (case-insensitively)', async () => {
    const alice = await signUp();
    const email = await call('POST', '/users/', {
      body: {
        username: 'someone_new',
        email: `${alice.username.toUpperCase()}@EXAMPLE.com`,
        password: 'a-long-password',
      },
    });
    assert.equal(email.status, 409);
    assert.deepEqual(
      email.body.errors.map((e: { field: string }) => e.field),
      ['email'],
    );
    const username = await call('POST', '/users/', {
      body: {
        username: alice.username.toUpperCase(),
        email: 'fresh@example.com',
        password: 'a-long-password',
      },
    });
    assert.equal(username.status, 409);
    assert.equal(username.body.errors[0].field, 'username');
    const bob = await signUp();
    const update = await call('PUT', `/users/${bob.id}`, {
      token: bob.token,
      body: { email: `${alice.username}@example.com` },
    });
    assert.equal(update.status, 409);
    assert.equal(update.body.errors[0].field, 'email');
  });

  test('invalid fields are 422 naming each of them', async () => {
    const created = await call('POST', '/users/', {
      body: { username: 'x', email: 'not-an-email', password: 'short', role: 'root', age: 'old' },
    });
    assert.equal(created.status, 422);
    assert.deepEqual(created.body.errors.map((e: { field: string }) => e.field).sort(), [
      'age',
      'email',
      'password',
      'role',
      'username',
    ]);
    const missing = await call('POST', '/users/', { body: { username: 'valid_name' } });
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body.errors.map((e: { field: string }) => e.field).sort(), [
      'email',
      'password',
    ]);
    const alice = await signUp();
    const update = await call('PUT', `/users/${alice.id}`, {
      token: alice.token,
      body: { age: 151, phone: '555' },
    });
    assert.equal(update.status, 422);
    assert.deepEqual(update.body.errors.map((e: { field: string }) => e.field).sort(), [
      'age',
      'phone',
    ]);
    const empty = await call('PUT', `/users/${alice.id}`, { token: alice.token, body: {} });
    assert.equal(empty.status, 422);
    const channel = await call('PUT', `/users/${alice.id}/preferences`, {
      token: alice.token,
      body: { fax: false, sms: 'no' },
    });
    assert.equal(channel.status, 422);
    assert.deepEqual(channel.body.errors.map((e: { field: string }) => e.field).sort(), [
      'fax',
      'sms',
    ]);
    const login = await call('POST', '/users/login', { body: { username: alice.username } });
    assert.equal(login.status, 422);
    assert.equal(login.body.errors[0].field, 'password');
  });

  test('preferences: every channel on until turned off; a partial PUT keeps the others', async () => {
    const alice = await signUp();
    const initial = await call('GET', `/users/${alice.id}/preferences`, { token: alice.token });
    assert.deepEqual(initial.body, { email: true, sms: true, push: true });
    const off = await call('PUT', `/users/${alice.id}/preferences`, {
      token: alice.token,
      body: { sms: false },
    });
    assert.deepEqual(off.body, { email: true, sms: false, push: true });
    const rows = await platform.db.query<{ channel: string; enabled: boolean }>(
      'SELECT channel, enabled FROM notification_preferences WHERE user_id = $1',
      [alice.id],
    );
    assert.deepEqual(rows, [{ channel: 'sms', enabled: false }], 'where notifications read it');
  });

  test('an API key with the admin scope acts as an admin on /users; other keys are refused', async () => {
    const alice = await signUp();
    const list = await call('GET', '/users/?limit=1000', { token: ADMIN_API_KEY });
    assert.equal(list.status, 200);
    assert.ok(list.body.some((u: { id: string }) => u.id === alice.id));
    const created = await call('POST', '/users/', {
      token: ADMIN_API_KEY,
      body: newUser(`provisioned_${Date.now().toString(36)}`, 'admin'),
    });
    assert.equal(created.status, 201);
    const key = await call('POST', '/api/v1/keys', {
      token: ADMIN_API_KEY,
      body: { name: 'ingest', scopes: ['events:write'] },
    });
    assert.equal(key.status, 201);
    const refused = await call('GET', '/users/', { token: key.body.key });
    assert.equal(refused.status, 403);
  });

  test('every change is published on the users topic, in order, with no secrets', async () => {
    const alice = await signUp();
    await call('PUT', `/users/${alice.id}`, { token: alice.token, body: { age: 40 } });
    await call('DELETE', `/users/${alice.id}`, { token: alice.token });
    const events = await eventually(
      async () => {
        const rows = await platform.db.query<{
          event_type: string;
          payload: { user: { age: number }; changed?: string[] };
          headers: Record<string, string>;
        }>(
          `SELECT event_type, payload, headers FROM raw_events
         WHERE topic = 'users' AND key = $1 ORDER BY "offset"`,
          [alice.id],
        );
        assert.equal(rows.length, 3);
        return rows;
      },
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(
      events.map((e) => e.event_type),
      ['user.created', 'user.updated', 'user.deleted'],
    );
    assert.equal(events[1]?.payload.user.age, 40);
    assert.deepEqual(events[1]?.payload.changed, ['age']);
    assert.ok(events[0]?.headers.correlation_id, 'the request’s correlation id travels along');
    const text = JSON.stringify(events);
    assert.ok(!text.includes(alice.password) && !text.includes('scrypt$'), 'no password or hash');
    const processed = await platform.db.query(
      `SELECT 1 FROM processed_events WHERE topic = 'users'
       UNION ALL SELECT 1 FROM failed_events WHERE topic = 'users'`,
    );
    assert.equal(processed.length, 0, 'the processing workers leave user events alone');
  });

  test('OpenAPI documents the user routes under the users tag', async () => {
    const spec = (await (await fetch(`${platform.url}/docs/json`)).json()) as {
      paths: Record<string, Record<string, { tags: string[] }>>;
      tags: { name: string }[];
    };
    const paths = Object.keys(spec.paths);
    for (const path of [
      '/users/',
      '/users/login',
      '/users/logout',
      '/users/{id}',
      '/users/{id}/sessions',
      '/users/{id}/sessions/{session_id}',
      '/users/{id}/preferences',
    ]) {
      assert.ok(paths.includes(path), path);
    }
    assert.deepEqual(spec.paths['/users/login']?.post?.tags, ['users']);
    assert.ok(spec.tags.some((tag) => tag.name === 'users'));
  });
});

describe('user routes with API keys required [postgres]', () => {
  test('sessions work on /users without an API key, and a session token is no API key elsewhere', async (t) => {
    const platform = await startUsersPlatform({ AUTH: 'required', ADMIN_API_KEY }, 'postgres');
    t.after(() => platform.cleanup());
    const call = client(platform.url);
    const signup = await call('POST', '/users/', {
      body: { username: 'kim', email: 'kim@example.com', password: 'kims-password' },
    });
    assert.equal(signup.status, 201, 'sign-up needs no API key');
    const login = await call('POST', '/users/login', {
      body: { username: 'kim', password: 'kims-password' },
    });
    assert.equal(login.status, 200);
    const token = login.body.access_token;
    assert.equal((await call('GET', `/users/${signup.body.id}`, { token })).status, 200);
    assert.equal((await call('GET', '/users/')).status, 401);
    const elsewhere = await call('GET', '/api/v1/dead-letters', { token });
    assert.equal(elsewhere.status, 401, 'a session token opens no API-key route');
    const admin = await call('GET', '/users/', { token: ADMIN_API_KEY });
    assert.equal(admin.status, 200);
    assert.equal(admin.body.length, 2, 'kim and the ADMIN_EMAIL admin');
  });

  test('parallel password guesses count against each other: no more than the limit are checked', async (t) => {
    const platform = await startUsersPlatform(
      { LOGIN_FREE_FAILURES: '5', DATABASE_POOL_SIZE: '10' },
      'postgres',
    );
    t.after(() => platform.cleanup());
    const call = client(platform.url);
    const signup = await call('POST', '/users/', {
      body: { username: 'lee', email: 'lee@example.com', password: 'lees-password' },
    });
    assert.equal(signup.status, 201);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call('POST', '/users/login', { body: { username: 'lee', password: `guess-${i}` } }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    const checked = statuses.filter((s) => s === 401).length;
    assert.ok(checked <= 5, `${checked} guesses were checked; 5 are free`);
    assert.equal(statuses.filter((s) => s === 429).length, 20 - checked);
    const right = await call('POST', '/users/login', {
      body: { username: 'lee', password: 'lees-password' },
    });
    assert.equal(right.status, checked === 5 ? 429 : 200);
  });

  test('the ADMIN_EMAIL admin is created once, even by two API processes starting together', async (t) => {
    const schema = uniqueSchema();
    const settings = {
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: schema,
      PORT: '0',
      LOG_LEVEL: 'silent',
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
    };
    t.after(() => dropSchema(schema));
    const start = () => {
      const config = loadConfig({}, settings);
      return startPlatform(
        config,
        createLogger('silent'),
        { api: true, worker: false },
        {
          scrypt: CHEAP,
        },
      );
    };
    const [a, b] = await Promise.all([start(), start()]);
    t.after(() => Promise.all([a.stop(), b.stop()]));
    const admins = await a.db.query<{ email: string; role: string }>(
      'SELECT email, role FROM users',
    );
    assert.deepEqual(admins, [{ email: ADMIN_EMAIL, role: 'admin' }]);
    const events = await a.db.query('SELECT type FROM outbox');
    assert.equal(events.length, 1, 'one user.created');
  });

  test('ADMIN_EMAIL without ADMIN_PASSWORD, or a too short one, fails the start naming the setting', async (t) => {
    for (const [settings, pattern] of [
      [{ ADMIN_PASSWORD: '' }, /ADMIN_PASSWORD/],
      [{ ADMIN_PASSWORD: 'short' }, /password/],
    ] as const) {
      const schema = uniqueSchema();
      t.after(() => dropSchema(schema));
      const config = loadConfig(
        {},
        {
          DATABASE_URL: POSTGRES_URL,
          READ_PORT: 'off',
          DATABASE_SCHEMA: schema,
          PORT: '0',
          LOG_LEVEL: 'silent',
          ADMIN_EMAIL,
          ...settings,
        },
      );
      await assert.rejects(
        startPlatform(
          config,
          createLogger('silent'),
          { api: true, worker: false },
          { scrypt: CHEAP },
        ),
        (e: Error & { code?: string }) =>
          e.code === 'HERALD_CONFIG_INVALID' && pattern.test(e.message),
      );
    }
  });
});
