import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresOutboxStore } from '../../../../src/adapters/store/postgres/outbox.ts';
import { PostgresUserStore } from '../../../../src/adapters/store/postgres/users.ts';
import { uuidv7 } from '../../../../src/domain/ids.ts';
import { generateSessionToken, type User } from '../../../../src/domain/users.ts';
import { ErrorCodes, HeraldError } from '../../../../src/errors.ts';
import type { SqlExecutor } from '../../../../src/ports/database.ts';
import type { NewUser, OutboxEvent } from '../../../../src/ports/user-store.ts';
import { describeEachDatabase } from '../../../helpers/databases.ts';
import { userTestDatabase } from '../../../helpers/users.ts';

function newUser(overrides: Partial<NewUser> = {}): NewUser {
  const id = uuidv7();
  return {
    id,
    username: `user_${id.slice(-8)}`,
    email: `${id.slice(-8)}@example.com`,
    fullName: null,
    age: null,
    phone: null,
    role: 'user',
    passwordHash: 'scrypt$4$8$1$c2FsdA$a2V5',
    ...overrides,
  };
}

const eventOf =
  (type: string) =>
  (user: User): OutboxEvent => ({
    id: uuidv7(),
    topic: 'users',
    key: user.id,
    type,
    payload: { type, user: { id: user.id, email: user.email } },
    headers: {},
  });

function outboxRows(db: SqlExecutor) {
  return db.query<{ type: string; key: string; payload: { user: { email: string } } }>(
    'SELECT type, key, payload FROM outbox ORDER BY seq',
  );
}

describeEachDatabase('PostgresUserStore', (factory) => {
  const open = userTestDatabase(factory);
  test('a created user commits with its user.created outbox row, and only then', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const user = await store.create(newUser({ email: 'Ada@Example.com' }), eventOf('user.created'));
    assert.equal(user.email, 'Ada@Example.com');
    const rows = await outboxRows(db);
    assert.deepEqual(
      rows.map((r) => [r.type, r.key, r.payload.user.email]),
      [['user.created', user.id, 'Ada@Example.com']],
    );
    assert.deepEqual(await store.get(user.id), user);
  });

  test('a failing insert (taken email, any case) leaves neither a user nor an event; CONFLICT names the field', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    await store.create(newUser({ email: 'ada@example.com' }), eventOf('user.created'));
    await assert.rejects(
      store.create(newUser({ email: 'ADA@example.com' }), eventOf('user.created')),
      (e: unknown) =>
        e instanceof HeraldError && e.code === ErrorCodes.CONFLICT && e.details.field === 'email',
    );
    await assert.rejects(
      store
        .create(newUser({ username: 'taken' }), eventOf('user.created'))
        .then(() => store.create(newUser({ username: 'TAKEN' }), eventOf('user.created'))),
      (e: unknown) => e instanceof HeraldError && e.details.field === 'username',
    );
    assert.equal((await store.list(100, 0)).length, 2);
    assert.equal((await outboxRows(db)).length, 2, 'no event for the refused inserts');
  });

  test('an event that cannot be written rolls the user back: never a user without its event', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const first = await store.create(newUser(), eventOf('user.created'));
    const duplicateEventId = ((await db.query('SELECT id FROM outbox')) as { id: string }[])[0]
      ?.id as string;
    const candidate = newUser();
    await assert.rejects(
      store.create(candidate, (u) => ({ ...eventOf('user.created')(u), id: duplicateEventId })),
    );
    assert.equal(await store.get(candidate.id), undefined);
    await assert.rejects(
      store.update(first.id, { fullName: 'changed' }, (u) => ({
        ...eventOf('user.updated')(u),
        id: duplicateEventId,
      })),
    );
    assert.equal((await store.get(first.id))?.fullName, null, 'the update was rolled back');
    await assert.rejects(
      store.delete(first.id, (u) => ({ ...eventOf('user.deleted')(u), id: duplicateEventId })),
    );
    assert.ok(await store.get(first.id), 'the delete was rolled back');
    assert.equal((await outboxRows(db)).length, 1);
  });

  test('updates change only the given fields (null clears), deletes cascade to sessions; each writes its event', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const user = await store.create(
      newUser({ fullName: 'Ada', age: 36, phone: '+14155550123' }),
      eventOf('user.created'),
    );
    const updated = await store.update(
      user.id,
      { email: 'new@example.com', fullName: null },
      eventOf('user.updated'),
    );
    assert.equal(updated.email, 'new@example.com');
    assert.equal(updated.fullName, null);
    assert.equal(updated.age, 36);
    assert.equal(updated.phone, '+14155550123');
    assert.equal(updated.username, user.username);
    const { hash } = generateSessionToken();
    await store.createSession({
      id: uuidv7(),
      tokenHash: hash,
      userId: user.id,
      expiresAt: new Date(Date.now() + 60_000),
      ip: '127.0.0.1',
      userAgent: 'test',
    });
    await store.setPreferences(user.id, { sms: false });
    await store.delete(user.id, eventOf('user.deleted'));
    assert.equal(await store.get(user.id), undefined);
    assert.equal(await store.findSession(hash), undefined);
    assert.deepEqual(
      (await outboxRows(db)).map((r) => r.type),
      ['user.created', 'user.updated', 'user.deleted'],
    );
    await assert.rejects(
      store.update(user.id, { fullName: 'x' }, eventOf('user.updated')),
      (e: unknown) => e instanceof HeraldError && e.code === ErrorCodes.NOT_FOUND,
    );
    assert.equal((await outboxRows(db)).length, 3);
  });

  test('the last admin can be neither deleted nor demoted; with two, one may go', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const a = await store.create(newUser({ role: 'admin' }), eventOf('user.created'));
    const b = await store.create(newUser({ role: 'admin' }), eventOf('user.created'));
    await store.update(b.id, { role: 'user' }, eventOf('user.updated'));
    await assert.rejects(
      store.update(a.id, { role: 'guest' }, eventOf('user.updated')),
      (e: unknown) => e instanceof HeraldError && e.code === ErrorCodes.CONFLICT,
    );
    await assert.rejects(store.delete(a.id, eventOf('user.deleted')));
    assert.equal(await store.countAdmins(), 1);
    assert.equal((await outboxRows(db)).length, 3, 'refused changes wrote no event');
  });

  test('sessions: found by token hash while live; expired and revoked ones are not', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const user = await store.create(newUser({ role: 'guest' }), eventOf('user.created'));
    const live = generateSessionToken();
    const expired = generateSessionToken();
    const liveId = uuidv7();
    await store.createSession({
      id: liveId,
      tokenHash: live.hash,
      userId: user.id,
      expiresAt: new Date(Date.now() + 60_000),
      ip: null,
      userAgent: null,
    });
    await store.createSession({
      id: uuidv7(),
      tokenHash: expired.hash,
      userId: user.id,
      expiresAt: new Date(Date.now() - 1),
      ip: null,
      userAgent: null,
    });
    const found = await store.findSession(live.hash);
    assert.equal(found?.session.id, liveId);
    assert.equal(found?.role, 'guest');
    assert.equal(found?.session.lastSeenAt, null, 'as it was before this request');
    const seen = (await store.findSession(live.hash))?.session.lastSeenAt;
    assert.ok(seen, 'marked seen');
    assert.equal(
      (await store.findSession(live.hash))?.session.lastSeenAt,
      seen,
      'marked at most once a minute',
    );
    assert.equal(await store.findSession(expired.hash), undefined);
    assert.deepEqual(
      (await store.listSessions(user.id)).map((s) => s.id),
      [liveId],
    );
    assert.equal(await store.revokeSession('someone-else', liveId), false);
    assert.equal(await store.revokeSession(user.id, liveId), true);
    assert.equal(await store.revokeSession(user.id, liveId), false, 'already revoked');
    assert.equal(await store.findSession(live.hash), undefined);
    const rows = (await db.query('SELECT token_hash FROM sessions')) as { token_hash: string }[];
    assert.ok(rows.every((r) => !r.token_hash.includes(live.token)));
  });

  test('revokeSessions ends every live session but the one kept', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const user = await store.create(newUser(), eventOf('user.created'));
    const ids = [uuidv7(), uuidv7(), uuidv7()];
    for (const id of ids) {
      await store.createSession({
        id,
        tokenHash: generateSessionToken().hash,
        userId: user.id,
        expiresAt: new Date(Date.now() + 60_000),
        ip: null,
        userAgent: null,
      });
    }
    assert.equal(await store.revokeSessions(user.id, ids[0]), 2);
    assert.deepEqual(
      (await store.listSessions(user.id)).map((s) => s.id),
      [ids[0]],
    );
    assert.equal(await store.revokeSessions(user.id), 1);
  });

  test('login failures count per account+address always and per account up to the address’s share, within the window', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const fromX = { account: 'account:a', accountAddress: 'account-address:a|x', accountShare: 2 };
    for (const attemptId of ['01-x', '02-x', '03-x']) {
      await store.recordLoginFailure({ ...fromX, attemptId }, 60_000);
    }
    const fromY = { account: 'account:a', accountAddress: 'account-address:a|y', accountShare: 2 };
    await store.recordLoginFailure({ ...fromY, attemptId: '04-y' }, 60_000);
    const keys = ['account:a', 'account-address:a|x', 'account-address:a|y', 'account:b'];
    const seen = await store.loginFailures(keys, 60_000);
    assert.equal(seen.get('account-address:a|x')?.count, 3);
    assert.equal(seen.get('account-address:a|y')?.count, 1);
    assert.equal(seen.get('account:a')?.count, 3, 'x counts twice (its share), y once');
    assert.equal(seen.has('account:b'), false);
    const latest = seen.get('account:a')?.msSinceLatest ?? -1;
    assert.ok(latest >= 0 && latest < 60_000, `ms since the latest: ${latest}`);

    const others = await store.loginFailures(keys, 60_000, '03-x');
    assert.equal(others.get('account-address:a|x')?.count, 2, 'all but attempt 03-x');

    await store.forgetLoginAttempt('04-y');
    const forgotten = await store.loginFailures(keys, 60_000);
    assert.equal(forgotten.has('account-address:a|y'), false);
    assert.equal(forgotten.get('account:a')?.count, 2, 'with its share of the account');

    await store.clearLoginFailures('account-address:a|x');
    assert.equal((await store.loginFailures(keys, 60_000)).size, 0, 'x and its share are gone');

    await store.recordLoginFailure({ ...fromY, attemptId: '05-y' }, 60_000);
    await db.query(`UPDATE login_failures SET failed_at = now() - interval '2 minutes'`);
    assert.equal((await store.loginFailures(keys, 60_000)).size, 0, 'out of the window');
    await store.recordLoginFailure({ ...fromX, attemptId: '06-x' }, 60_000);
    const [left] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM login_failures');
    assert.equal(left?.n, 2, 'failures past the window are pruned');
  });

  test('loggedInFrom: a session of the user opened from that address within the time', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const user = await store.create(newUser(), eventOf('user.created'));
    await store.createSession({
      id: 's1',
      tokenHash: 'h1',
      userId: user.id,
      expiresAt: new Date(Date.now() + 60_000),
      ip: '10.0.0.7',
      userAgent: null,
    });
    assert.equal(await store.loggedInFrom(user.id, '10.0.0.7', 60_000), true);
    assert.equal(await store.loggedInFrom(user.id, '10.0.0.8', 60_000), false);
    await db.query(`UPDATE sessions SET created_at = now() - interval '2 minutes'`);
    assert.equal(await store.loggedInFrom(user.id, '10.0.0.7', 60_000), false);
  });

  test('preferences: unset channels are absent, set ones upserted', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const user = await store.create(newUser(), eventOf('user.created'));
    assert.deepEqual(await store.preferences(user.id), {});
    await store.setPreferences(user.id, { sms: false, email: true });
    await store.setPreferences(user.id, { sms: true, push: false });
    assert.deepEqual(await store.preferences(user.id), { email: true, sms: true, push: false });
  });

  test('findCredentials matches username or email case-insensitively and returns the hash', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const user = await store.create(
      newUser({ username: 'Ada', email: 'ada@example.com' }),
      eventOf('user.created'),
    );
    assert.equal((await store.findCredentials('ada'))?.user.id, user.id);
    assert.equal((await store.findCredentials('ADA@EXAMPLE.COM'))?.user.id, user.id);
    assert.equal((await store.findCredentials('ada'))?.passwordHash, 'scrypt$4$8$1$c2FsdA$a2V5');
    assert.equal(await store.findCredentials('nobody'), undefined);
  });
});

describeEachDatabase('PostgresOutboxStore', (factory) => {
  const open = userTestDatabase(factory);
  test('one relay lease at a time: taken when free or expired, renewed by its holder, released', async (t) => {
    const db = await open(t);
    const outbox = new PostgresOutboxStore(db);
    assert.equal(await outbox.acquireLease('a', 60_000), true);
    assert.equal(await outbox.acquireLease('b', 60_000), false);
    assert.equal(await outbox.acquireLease('a', 60_000), true, 'renewed');
    await outbox.releaseLease('b');
    assert.equal(await outbox.acquireLease('b', 60_000), false, 'only the holder releases');
    await outbox.releaseLease('a');
    assert.equal(await outbox.acquireLease('b', 1), true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await outbox.acquireLease('a', 60_000), true, 'an expired lease is taken over');
  });

  test('unpublished events come in commit order; marked ones leave the backlog and are pruned later', async (t) => {
    const db = await open(t);
    const store = new PostgresUserStore(db);
    const outbox = new PostgresOutboxStore(db);
    const user = await store.create(newUser(), eventOf('user.created'));
    await store.update(user.id, { age: 1 }, eventOf('user.updated'));
    await store.delete(user.id, eventOf('user.deleted'));
    const pending = await outbox.unpublished(10);
    assert.deepEqual(
      pending.map((e) => e.type),
      ['user.created', 'user.updated', 'user.deleted'],
    );
    assert.ok(pending.every((e) => e.key === user.id && e.topic === 'users'));
    assert.equal(await outbox.backlog(), 3);
    await outbox.markPublished(pending.slice(0, 2).map((e) => e.id));
    assert.deepEqual(
      (await outbox.unpublished(10)).map((e) => e.type),
      ['user.deleted'],
    );
    assert.equal(await outbox.prunePublished(60_000), 0, 'recent ones are kept');
    assert.equal(await outbox.prunePublished(0), 2);
    assert.equal(await outbox.backlog(), 1);
  });
});
