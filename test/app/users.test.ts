import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresUserStore } from '../../src/adapters/store/postgres/users.ts';
import { UserService, type UserServiceOptions } from '../../src/app/users.ts';
import type { Actor } from '../../src/domain/users.ts';
import { ErrorCodes, HeraldError } from '../../src/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Database } from '../../src/ports/database.ts';
import { describeEachDatabase } from '../helpers/databases.ts';
import { userTestDatabase } from '../helpers/users.ts';

const ctx = { ip: '10.0.0.1', userAgent: 'test', correlationId: 'corr-1' };

function service(db: Database, options: Partial<UserServiceOptions> = {}) {
  let events = 0;
  const users = new UserService(new PostgresUserStore(db), createLogger('silent'), {
    sessionTtlMs: 60_000,
    openRegistration: true,
    login: { maxPerAccount: 3, maxPerAddress: 100, windowMs: 60_000 },
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

  test('logins: wrong passwords are UNAUTHENTICATED; past the limit RATE_LIMITED with a retry time; success clears the account', async (t) => {
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
      );
    }
    await assert.rejects(users.login('ada', 'right-password', ctx), (e: unknown) => {
      assert.ok(e instanceof HeraldError && e.code === ErrorCodes.RATE_LIMITED);
      const retryAfterMs = e.details.retryAfterMs as number;
      assert.ok(retryAfterMs > 50_000 && retryAfterMs <= 60_000, String(retryAfterMs));
      return true;
    });
    const fromElsewhere = { ...ctx, ip: '10.0.0.2' };
    await assert.rejects(
      users.login('ada', 'right-password', fromElsewhere),
      isCode(ErrorCodes.RATE_LIMITED),
      'the account limit holds from any address',
    );
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
