/**
 * A schema changed in one process applies in every other within the stated bound: at once
 * through LISTEN/NOTIFY, and within SCHEMAS_POLL_MS when notifications are lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrate } from '../../../src/adapters/postgres/migrate.ts';
import { openPostgres } from '../../../src/adapters/postgres/server.ts';
import { PostgresSchemaRegistryStore } from '../../../src/adapters/store/postgres/schema-registry.ts';
import { SchemaCatalog } from '../../../src/app/schemas/catalog.ts';
import { ContractCheck } from '../../../src/app/schemas/contract-check.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import type { SchemaWrite } from '../../../src/ports/schema-registry.ts';
import {
  DATABASES,
  describeEachDatabase,
  dropSchema,
  POSTGRES_URL,
  uniqueSchema,
} from '../../helpers/databases.ts';
import { eventually } from '../../helpers/eventually.ts';

const logger = createLogger('silent');

function version(schema: Record<string, unknown>): SchemaWrite {
  return {
    settings: {
      compatibility: 'none',
      onViolation: 'reject',
      description: null,
      deprecated: false,
      deprecationMessage: null,
    },
    version: { schema, fingerprint: JSON.stringify(schema) },
    change: 'version',
    detail: {},
    actor: { keyId: null, name: 'test' },
    event: (after) => ({
      id: `e-${after.latest.version}-${Math.random()}`,
      topic: 'schemas',
      key: after.type.eventType,
      type: 'schema.updated',
      payload: {},
      headers: {},
    }),
  };
}

const requiresAmount = { type: 'object', required: ['amount'] };

describeEachDatabase('schema catalog', (factory) => {
  test('loads every type, compiles each version once and shares the validator', async (t) => {
    const db = await factory.open(t);
    const store = new PostgresSchemaRegistryStore(db);
    await store.change('purchase', () => version({ type: 'object' }));
    await store.change('purchase', () => version(requiresAmount));
    const catalog = new SchemaCatalog(store, logger, { pollMs: 60_000 });
    assert.equal(await catalog.refresh(), true);
    assert.equal(await catalog.refresh(), false, 'nothing changed: nothing reloaded');
    assert.equal(catalog.get('purchase')?.type.latestVersion, 2);
    const latest = catalog.validator('purchase', 2);
    assert.ok(latest);
    assert.equal(catalog.validator('purchase', 2), latest, 'compiled once');
    assert.equal(latest({}), false);
    assert.equal(catalog.validator('purchase', 1)?.({}), true, 'older versions on first use');
    assert.equal(catalog.validator('purchase', 3), undefined);
  });
});

test('a change through one connection applies in another process’s catalog by notification, well before its poll', async (t) => {
  const schema = uniqueSchema();
  const [a, b] = await Promise.all([
    openPostgres({ url: POSTGRES_URL, schema, poolSize: 2 }),
    openPostgres({ url: POSTGRES_URL, schema, poolSize: 2 }),
  ]);
  await migrate(a);
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await dropSchema(schema);
  });
  // Process B polls only once a minute: only the notification can bring the change in time.
  const catalog = new SchemaCatalog(new PostgresSchemaRegistryStore(b), logger, { pollMs: 60_000 });
  await catalog.refresh();
  await catalog.start(b);
  t.after(() => catalog.stop());
  const check = new ContractCheck(catalog, { required: false });
  const event = { event_type: 'purchase', user_id: 'u1', properties: {} };
  assert.equal(check.check('events', event).status, 'unchecked');

  await new PostgresSchemaRegistryStore(a).change('purchase', () => version(requiresAmount));
  await eventually(() => (check.check('events', event).status === 'violation' ? true : undefined), {
    timeoutMs: 30_000,
    message: 'the notification',
  });
});

test('with notifications lost, the poll brings a change in within SCHEMAS_POLL_MS', async (t) => {
  const db = await DATABASES.find((d) => d.kind === 'postgres')?.open(t);
  assert.ok(db);
  const pollMs = 300;
  // No listen at all: every change must come from the poll.
  const catalog = new SchemaCatalog(new PostgresSchemaRegistryStore(db), logger, { pollMs });
  await catalog.refresh();
  await catalog.start(undefined);
  t.after(() => catalog.stop());
  const before = catalog.revision;
  const changedAt = Date.now();
  await new PostgresSchemaRegistryStore(db).change('purchase', () => version(requiresAmount));
  await eventually(() => (catalog.revision > before ? true : undefined), {
    timeoutMs: 30_000,
    message: 'the poll',
  });
  // The bound is pollMs plus one reload; generous slack for a loaded machine.
  assert.ok(Date.now() - changedAt < pollMs + 15_000);
  assert.equal(catalog.get('purchase')?.type.latestVersion, 1);
});
