import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPostgres } from '../../../src/adapters/postgres/server.ts';
import { DATABASES, dropSchema, POSTGRES_URL, uniqueSchema } from '../../helpers/databases.ts';
import { eventually } from '../../helpers/eventually.ts';

const NOTIFY = 'SELECT pg_notify($1, current_schema())';

for (const factory of DATABASES) {
  test(`a committed notification wakes the listener; a rolled back one does not [${factory.kind}]`, async (t) => {
    const db = await factory.open(t);
    let woken = 0;
    const unlisten = await db.listen('herald_test_channel', () => woken++);
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query(NOTIFY, ['herald_test_channel']);
        throw new Error('roll back');
      }),
    );
    await db.query(NOTIFY, ['herald_test_channel']);
    await eventually(() => (woken > 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(woken, 1, 'only the committed notification arrives');
    await unlisten();
  });
}

test('a listener hears its own schema only: deployments sharing a database do not wake each other', async (t) => {
  const [ours, theirs] = [uniqueSchema(), uniqueSchema()];
  const open = (schema: string) => openPostgres({ url: POSTGRES_URL, schema, poolSize: 1 });
  const [dbOurs, dbTheirs, dbOursElsewhere] = await Promise.all([
    open(ours),
    open(theirs),
    open(ours),
  ]);
  t.after(async () => {
    await Promise.all([dbOurs.close(), dbTheirs.close(), dbOursElsewhere.close()]);
    await Promise.all([dropSchema(ours), dropSchema(theirs)]);
  });
  let woken = 0;
  const unlisten = await dbOurs.listen('herald_test_channel', () => woken++);
  await dbTheirs.query(NOTIFY, ['herald_test_channel']);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(woken, 0, 'another schema’s notification is ignored');
  await dbOursElsewhere.query(NOTIFY, ['herald_test_channel']);
  await eventually(() => (woken === 1 ? true : undefined));
  await unlisten();
});

test('a listening connection the server drops is reopened: the listener is woken, then hears notifications again', async (t) => {
  const schema = uniqueSchema();
  const applicationName = `herald-listen-test-${schema}`;
  const db = await openPostgres({ url: POSTGRES_URL, schema, poolSize: 1, applicationName });
  t.after(async () => {
    await db.close();
    await dropSchema(schema);
  });
  let woken = 0;
  const unlisten = await db.listen('herald_test_channel', () => woken++);
  await db.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
    [`${applicationName}-listen`],
  );
  // Notifications sent while it was down are lost: reconnecting wakes the listener once.
  await eventually(() => (woken === 1 ? true : undefined), { message: 'the wake on reconnect' });
  await db.query(NOTIFY, ['herald_test_channel']);
  await eventually(() => (woken === 2 ? true : undefined), { message: 'a notification after it' });
  await unlisten();
});
