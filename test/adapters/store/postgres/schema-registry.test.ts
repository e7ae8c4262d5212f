import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PostgresSchemaRegistryStore } from '../../../../src/adapters/store/postgres/schema-registry.ts';
import type { SchemaWrite } from '../../../../src/ports/schema-registry.ts';
import { describeEachDatabase } from '../../../helpers/databases.ts';

const actor = { keyId: 'key-1', name: 'ci deploy' };

function write(
  schema: Record<string, unknown> | undefined,
  settings: Partial<SchemaWrite['settings']> = {},
): SchemaWrite {
  return {
    settings: {
      compatibility: 'backward',
      onViolation: 'reject',
      description: null,
      deprecated: false,
      deprecationMessage: null,
      ...settings,
    },
    ...(schema === undefined ? {} : { version: { schema, fingerprint: JSON.stringify(schema) } }),
    change: schema === undefined ? 'settings' : 'version',
    detail: {},
    actor,
    event: (after) => ({
      id: `evt-${after.type.eventType}-${after.latest.version}-${Math.random()}`,
      topic: 'schemas',
      key: after.type.eventType,
      type: 'schema.updated',
      payload: { version: after.latest.version },
      headers: {},
    }),
  };
}

describeEachDatabase('schema registry store', (factory) => {
  test('versions are numbered in order, kept with who made them, and announced in the outbox with the revision bumped', async (t) => {
    const db = await factory.open(t);
    const store = new PostgresSchemaRegistryStore(db);
    const before = await store.revision();
    const schema = { type: 'object', properties: { b: {}, a: {} } };
    const first = await store.change('purchase', (current) => {
      assert.equal(current, undefined, 'a new type has no current state');
      return write(schema);
    });
    assert.equal(first.written, true);
    assert.equal(first.current?.latest.version, 1);
    const second = await store.change('purchase', (current) => {
      assert.equal(current?.latest.version, 1);
      return write({ type: 'object' }, { onViolation: 'quarantine' });
    });
    assert.equal(second.current?.latest.version, 2);
    assert.equal(second.current?.type.onViolation, 'quarantine');
    assert.equal(await store.revision(), before + 2);

    const [v1] = await store.versions('purchase');
    assert.deepEqual(Object.keys(v1?.schema.properties as object), ['b', 'a'], 'key order kept');
    assert.deepEqual(v1?.createdBy, actor);
    const outbox = await db.query<{ topic: string; key: string; payload: { version: number } }>(
      'SELECT topic, key, payload FROM outbox ORDER BY seq',
    );
    assert.deepEqual(
      outbox.map((r) => [r.topic, r.key, r.payload.version]),
      [
        ['schemas', 'purchase', 1],
        ['schemas', 'purchase', 2],
      ],
    );
    const changes = await store.changes('purchase', 10);
    assert.deepEqual(
      changes.map((c) => [c.change, c.version, c.actor.name]),
      [
        ['version', 2, 'ci deploy'],
        ['version', 1, 'ci deploy'],
      ],
    );
  });

  test('deciding nothing writes nothing; a decision that throws rolls everything back', async (t) => {
    const db = await factory.open(t);
    const store = new PostgresSchemaRegistryStore(db);
    await store.change('signup', () => write({ type: 'object' }));
    const revision = await store.revision();
    assert.equal((await store.change('signup', () => undefined)).written, false);
    await assert.rejects(
      store.change('signup', () => {
        throw new Error('incompatible');
      }),
      /incompatible/,
    );
    assert.equal(await store.revision(), revision);
    assert.equal((await store.versions('signup')).length, 1);
  });

  test('deprecation keeps its first time; settings changes add no version', async (t) => {
    const db = await factory.open(t);
    const store = new PostgresSchemaRegistryStore(db);
    await store.change('legacy', () => write({ type: 'object' }));
    const deprecated = await store.change('legacy', () =>
      write(undefined, { deprecated: true, deprecationMessage: 'use purchase' }),
    );
    const at = deprecated.current?.type.deprecatedAt;
    assert.ok(at);
    const again = await store.change('legacy', () =>
      write(undefined, { deprecated: true, deprecationMessage: 'use purchase v2' }),
    );
    assert.equal(again.current?.type.deprecatedAt, at);
    assert.equal(again.current?.type.deprecationMessage, 'use purchase v2');
    assert.equal(again.current?.type.latestVersion, 1);
    const undone = await store.change('legacy', () => write(undefined, { deprecated: false }));
    assert.equal(undone.current?.type.deprecatedAt, null);
    assert.equal(undone.current?.type.deprecationMessage, null);
  });

  test('versionsAfter returns only what a reader does not know yet', async (t) => {
    const db = await factory.open(t);
    const store = new PostgresSchemaRegistryStore(db);
    await store.change('a', () => write({ type: 'object' }));
    await store.change('a', () => write({ type: 'object', title: 'two' }));
    await store.change('b', () => write({ type: 'object' }));
    const all = await store.versionsAfter(new Map());
    assert.deepEqual(
      all.map((v) => `${v.eventType}@${v.version}`),
      ['a@1', 'a@2', 'b@1'],
    );
    const newer = await store.versionsAfter(new Map([['a', 1]]));
    assert.deepEqual(
      newer.map((v) => `${v.eventType}@${v.version}`),
      ['a@2', 'b@1'],
    );
  });
});
