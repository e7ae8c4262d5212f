import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresUserStore } from '../../src/adapters/store/postgres/users.ts';
import { UserService, type UserServiceOptions } from '../../src/app/users.ts';
import type { LoginThrottling } from '../../src/domain/login-throttling.ts';
import type { Actor } from '../../src/domain/users.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Database } from '../../src/ports/database.ts';
import { describeEachDatabase } from '../helpers/databases.ts';
import { userTestDatabase } from '../helpers/users.ts';

const ctx = { ip: '10.0.0.1', userAgent: 'test', correlationId: 'corr-1' };

/** Waits long enough that no test outlasts one by accident: time passes by backdating rows. */
const LOGIN: LoginThrottling = {
  freeFailures: 3,
  accountFreeFailures: 10,
  baseDelayMs: 60_000,
  maxDelayMs: 200_000,
  windowMs: 86_400_000,
  trustedAddressMs: 86_400_000,
};

function service(db: Database, options: Partial<UserServiceOptions> = {}) {
  let events = 0;
  const users = new UserService(new PostgresUserStore(db), createLogger('silent'), {
    sessionTtlMs: 60_000,
    openRegistration: true,
    login: LOGIN,
    scrypt: { logN: 4, r: 8, p: 1 },
    onEvent: () => {
      events++;
    },
    ...options,
  });
  return { users, events: () => events };
}

const isCode = (code: string) => (e: unknown) => e instanceof HeraldError && e.code === code;

async function outbox(db: Database) {
  return db.query<{ type: string; key: string; payload: Record<string, unknown>; headers: object }>(
    'SELECT type, key, payload, headers FROM outbox ORDER BY seq',
  );
}

describeEachDatabase('UserService', (factory) => {
  const open = userTestDatabase(factory);

  test('the ADMIN_EMAIL admin is created once; a taken username gets a suffix', async (t) => {
    const db = await open(t);
    const { users } = service(db);
    await users.create(
      { username: 'root', email: 'someone@example.com', password: 'pw-12345678' },
      undefined,
      ctx,
    );
    assert.equal(await users.ensureAdmin('root@example.com', 'root-password'), 'created');
    assert.equal(await users.ensureAdmin('ROOT@example.com', 'other-password'), 'exists');
    const rows = await db.query<{ username: string; role: string }>(
      `SELECT username, role FROM users WHERE email = 'root@example.com'`,
    );
    assert.deepEqual(rows, [{ username: 'root_2', role: 'admin' }]);
    const login = await users.login('root@example.com', 'root-password', ctx);
    assert.equal(login.user.role, 'admin', 'the first password stays');
    await assert.rejects(
      users.ensureAdmin('not-an-email', 'root-password'),
      isCode(ErrorCodes.VALIDATION),
    );
  });

  test('every change writes its event with the user, the changed fields and the correlation id, and wakes the relay', async (t) => {
    const db = await open(t);
    const { users, events } = service(db);
    const user = await users.create(
      { username: 'ada', email: 'ada@example.com', password: 'pw-12345678', age: 36 },
      undefined,
      ctx,
    );
    const self: Actor = { userId: user.id, role: 'user', sessionId: 's' };
    await users.update(self, user.id, { full_name: 'Ada L', password: 'pw-87654321' }, ctx);
    await users.delete(self, user.id, ctx);
    const rows = await outbox(db);
    assert.deepEqual(
      rows.map((r) => r.type),
      ['user.created', 'user.updated', 'user.deleted'],
    );
    assert.ok(rows.every((r) => r.key === user.id));
    assert.deepEqual(rows[1]?.payload.changed, ['full_name', 'password']);
    assert.deepEqual(rows[0]?.headers, { correlation_id: 'corr-1' });
    assert.equal((rows[0]?.payload.user as { age: number } | undefined)?.age, 36);
    assert.ok(!JSON.stringify(rows).includes('pw-'), 'no password in any event');
    assert.equal(events(), 3);
  });

  test('a refused change writes nothing and wakes nothing', async (t) => {
    const db = await open(t);
    const { users, events } = service(db);
    const a = await users.create(
      { username: 'aa', email: 'a@example.com', password: 'pw-12345678' },
      undefined,
      ctx,
    );
    const b = await users.create(
      { username: 'bb', email: 'b@example.com', password: 'pw-12345678' },
      undefined,
      ctx,
    );
    const asA: Actor = { userId: a.id, role: 'user', sessionId: 's' };
    await assert.rejects(users.update(asA, b.id, { age: 1 }, ctx), isCode(ErrorCodes.FORBIDDEN));
    await assert.rejects(
      users.update(asA, a.id, { role: 'admin' }, ctx),
      isCode(ErrorCodes.FORBIDDEN),
    );
    await assert.rejects(
      users.update(asA, a.id, { email: 'b@example.com' }, ctx),
      isCode(ErrorCodes.CONFLICT),
    );
    await assert.rejects(users.update(asA, a.id, { age: -4 }, ctx), isCode(ErrorCodes.VALIDATION));
    await assert.rejects(
      users.update({ ...asA, role: 'guest' }, a.id, { age: 1 }, ctx),
      isCode(ErrorCodes.FORBIDDEN),
    );
    await assert.rejects(users.delete(asA, b.id, ctx), isCode(ErrorCodes.FORBIDDEN));
    assert.equal((await outbox(db)).length, 2);
    assert.equal(events(), 2);
  });

  test('with open registration off only admins create users; only admins ever create admins', async (t) => {
    const db = await open(t);
    const { users } = service(db, { openRegistration: false });
    const input = { username: 'newbie', email: 'n@example.com', password: 'pw-12345678' };
    await assert.rejects(users.create(input, undefined, ctx), isCode(ErrorCodes.FORBIDDEN));
    const admin: Actor = { userId: 'x', role: 'admin', sessionId: 's' };
    assert.equal((await users.create({ ...input, role: 'admin' }, admin, ctx)).role, 'admin');
    const open2 = service(db);
    await assert.rejects(
      open2.users.create(
        { username: 'sneaky', email: 's@example.com', password: 'pw-12345678', role: 'admin' },
        undefined,
        ctx,
      ),
      isCode(ErrorCodes.FORBIDDEN),
    );
  });

  test('logins: wrong passwords are UNAUTHENTICATED; past the free failures RATE_LIMITED with a retry time, even for the right password; success forgets the address’s failures', async (t) => {
    const db = await open(t);
    const { users } = service(db);
    await users.create(
      { username: 'ada', email: 'ada@example.com', password: 'right-password' },
      undefined,
      ctx,
    );
    await assert.rejects(
      users.login('nobody', 'right-password', ctx),
      isCode(ErrorCodes.UNAUTHENTICATED),
    );
    await assert.rejects(users.login('ada', 'wrong-1', ctx), isCode(ErrorCodes.UNAUTHENTICATED));
    await assert.rejects(
      users.login('ADA@example.com', 'wrong-2', ctx),
      isCode(ErrorCodes.UNAUTHENTICATED),
    );
    await users.login('ada', 'right-password', ctx);
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        users.login('ada', `wrong-${i}`, ctx),
        isCode(ErrorCodes.UNAUTHENTICATED),
        'the two failures before the login were forgotten: three more are free',
      );
    }
    await assert.rejects(users.login('ada@example.com', 'right-password', ctx), (e: unknown) => {
      assert.ok(e instanceof HeraldError && e.code === ErrorCodes.RATE_LIMITED);
      const retryAfterMs = e.details.retryAfterMs as number;
      assert.ok(retryAfterMs > 50_000 && retryAfterMs <= 60_000, String(retryAfterMs));
      assert.equal(e.details.scope, 'account-address');
      return true;
    });
  });

  test('login waits grow: each failure past the free ones doubles the wait, up to the cap; a refused attempt does not count', async (t) => {
    const db = await open(t);
    const { users } = service(db);
    await users.create(
      { username: 'ada', email: 'a@example.com', password: 'pw-right-1' },
      undefined,
      ctx,
    );
    const waitFor = async (): Promise<number> => {
      let waited = -1;
      await assert.rejects(users.login('ada', 'pw-right-1', ctx), (e: unknown) => {
        assert.ok(e instanceof HeraldError && e.code === ErrorCodes.RATE_LIMITED, String(e));
        waited = e.details.retryAfterMs as number;
        return true;
      });
      return waited;
    };
    /** Lets `ms` pass for the counters: every failure moves that far into the past. */
    const pass = (ms: number) =>
      db.query(`UPDATE login_failures SET failed_at = failed_at - $1 * interval '1 millisecond'`, [
        ms,
      ]);
    for (let i = 0; i < 3; i++) {
      await assert.rejects(users.login('ada', `no-${i}`, ctx), isCode(ErrorCodes.UNAUTHENTICATED));
    }
    const waits: number[] = [];
    for (const step of [60_000, 120_000, 200_000, 200_000]) {
      const wait = await waitFor();
      assert.equal((await waitFor()) <= wait, true, 'asking again does not lengthen the wait');
      waits.push(wait);
      await pass(step + 1000);
      await assert.rejects(
        users.login('ada', 'still-wrong', ctx),
        isCode(ErrorCodes.UNAUTHENTICATED),
      );
    }
    const expected = [60_000, 120_000, 200_000, 200_000];
    waits.forEach((wait, i) => {
      const limit = expected[i] ?? 0;
      assert.ok(
        wait > limit - 10_000 && wait <= limit,
        `wait ${i}: ${wait} ms, expected ≈ ${limit}`,
      );
    });
  });

  test('a flood from one address on account A and on many others never refuses B’s right password from there, nor A’s from elsewhere', async (t) => {
    const db = await open(t);
    const { users } = service(db);
    const make = (name: string) =>
      users.create(
        { username: name, email: `${name}@example.com`, password: `${name}-password` },
        undefined,
        ctx,
      );
    await make('alice');
    await make('bob');
    const attacker = { ...ctx, ip: '203.0.113.66' };
    let throttled = 0;
    for (let i = 0; i < 40; i++) {
      await users.login('alice', `guess-${i}`, attacker).catch((e: unknown) => {
        if (e instanceof HeraldError && e.code === ErrorCodes.RATE_LIMITED) throttled++;
      });
    }
    // Credential stuffing: one try at each of many accounts, known or not.
    for (let i = 0; i < 30; i++) {
      await assert.rejects(
        users.login(`victim-${i}`, 'password1', attacker),
        isCode(ErrorCodes.UNAUTHENTICATED),
      );
    }
    assert.equal(throttled, 37, 'past its three free failures every guess at alice waits');
    assert.equal((await users.login('bob', 'bob-password', attacker)).user.username, 'bob');
    const home = { ...ctx, ip: '198.51.100.7' };
    assert.equal((await users.login('alice', 'alice-password', home)).user.username, 'alice');
    const [alice] = await db.query<{ id: string }>(`SELECT id FROM users WHERE username = 'alice'`);
    const counts = await db.query<{ scope_key: string; n: number }>(
      `SELECT scope_key, count(*)::int AS n FROM login_failures
       WHERE scope_key IN ($1, $2) GROUP BY scope_key`,
      [`account:${alice?.id}`, `account-address:${alice?.id}|${attacker.ip}`],
    );
    assert.deepEqual(
      Object.fromEntries(counts.map((r) => [r.scope_key.split(':')[0], r.n])),
      { account: 3, 'account-address': 3 },
      'the attacker’s three free failures, per account+address and (its share) per account',
    );
  });

  test('many addresses guessing at one account make everyone wait on it, except an address the owner logged in from', async (t) => {
    const db = await open(t);
    const { users } = service(db);
    await users.create(
      { username: 'ada', email: 'a@example.com', password: 'ada-password' },
      undefined,
      ctx,
    );
    const home = { ...ctx, ip: '198.51.100.7' };
    await users.login('ada', 'ada-password', home);
    // A botnet: ten guesses from four addresses (three free each), the account's ten free.
    for (let i = 0; i < 10; i++) {
      await assert.rejects(
        users.login('ada', `guess-${i}`, { ...ctx, ip: `203.0.113.${Math.floor(i / 3)}` }),
        isCode(ErrorCodes.UNAUTHENTICATED),
      );
    }
    await assert.rejects(
      users.login('ada', 'ada-password', { ...ctx, ip: '192.0.2.1' }),
      (e: unknown) => {
        assert.ok(e instanceof HeraldError && e.code === ErrorCodes.RATE_LIMITED);
        assert.equal(e.details.scope, 'account');
        return true;
      },
    );
    await assert.rejects(
      users.login('ada', 'guess-new', { ...ctx, ip: '203.0.113.99' }),
      isCode(ErrorCodes.RATE_LIMITED),
      'a fresh bot waits too',
    );
    assert.equal(
      (await users.login('ada', 'ada-password', home)).user.username,
      'ada',
      'the owner, from home, gets in',
    );
  });

  test('parallel guesses count against each other: no more than the free failures are checked', async (t) => {
    const db = await open(t);
    const { users } = service(db);
    await users.create(
      { username: 'lee', email: 'lee@example.com', password: 'lees-password' },
      undefined,
      ctx,
    );
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => users.login('lee', `guess-${i}`, ctx)),
    );
    const codes = outcomes.map((o) =>
      o.status === 'rejected' ? (o.reason as HeraldError).code : 'ok',
    );
    const checked = codes.filter((c) => c === ErrorCodes.UNAUTHENTICATED).length;
    assert.ok(checked <= 3, `${checked} guesses were checked; 3 are free`);
    assert.equal(codes.filter((c) => c === ErrorCodes.RATE_LIMITED).length, 12 - checked);
  });

  test('sessions: a login authenticates until logout; a new password ends the other sessions; an admin reset ends all', async (t) => {
    const db = await open(t);
    const { users } = service(db);
    const user = await users.create(
      { username: 'ada', email: 'ada@example.com', password: 'pw-12345678' },
      undefined,
      ctx,
    );
    const one = await users.login('ada', 'pw-12345678', ctx);
    const two = await users.login('ada', 'pw-12345678', ctx);
    const actorOne = await users.authenticate(one.token);
    assert.deepEqual(actorOne, { userId: user.id, role: 'user', sessionId: one.session.id });
    assert.equal(await users.authenticate('not-a-token'), undefined);

    await users.update(actorOne as Actor, user.id, { password: 'pw-new-12345' }, ctx);
    assert.ok(await users.authenticate(one.token), 'the session that changed it stays');
    assert.equal(await users.authenticate(two.token), undefined);

    const admin: Actor = { userId: 'admin', role: 'admin', sessionId: 'admin-session' };
    await users.update(admin, user.id, { password: 'pw-reset-1234' }, ctx);
    assert.equal(
      await users.authenticate(one.token),
      undefined,
      'an admin reset ends every session',
    );

    const three = await users.login('ada', 'pw-reset-1234', ctx);
    const actorThree = (await users.authenticate(three.token)) as Actor;
    await users.logout(actorThree);
    assert.equal(await users.authenticate(three.token), undefined);
  });

  test('lists: admins page through everyone; anyone else gets only itself', async (t) => {
    const db = await open(t);
    const { users } = service(db);
    const created = [];
    for (const name of ['aa', 'bb', 'cc']) {
      created.push(
        await users.create(
          { username: name, email: `${name}@example.com`, password: 'pw-12345678' },
          undefined,
          ctx,
        ),
      );
    }
    const admin: Actor = { userId: 'admin', role: 'admin', sessionId: 's' };
    assert.deepEqual(
      (await users.list(admin, 2, 1)).map((u) => u.username),
      ['bb', 'cc'],
    );
    const guest: Actor = { userId: created[1]?.id as string, role: 'guest', sessionId: 's' };
    assert.deepEqual(
      (await users.list(guest, 100, 0)).map((u) => u.username),
      ['bb'],
    );
    assert.deepEqual(await users.list(guest, 100, 1), []);
  });
});
