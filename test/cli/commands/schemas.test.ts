import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { schemasCommand } from '../../../src/cli/commands/schemas.ts';
import { startTestPlatform } from '../../helpers/platform.ts';
import { herald, runInProcess } from './run-cli.ts';

const ADMIN_KEY = 'test-admin-key-of-at-least-32-characters';
// Starting a Node process can take long on a loaded machine; these are not timing tests.
const CLI_TIMEOUT_MS = 90_000;

/** Runs `herald schemas` in this process, capturing what it writes. */
const schemas = (argv: string[], env: Record<string, string | undefined>) =>
  runInProcess(schemasCommand, argv, env);

test('herald schemas puts versions, refuses a breaking one naming the break, lists, gets, diffs and deprecates', async (t) => {
  const { url } = await startTestPlatform(
    t,
    { AUTH: 'required', ADMIN_API_KEY: ADMIN_KEY },
    { database: 'postgres' },
  );
  const dir = await mkdtemp(join(tmpdir(), 'herald-schemas-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = async (name: string, schema: unknown) => {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(schema));
    return path;
  };
  const admin = { HERALD_URL: url, HERALD_API_KEY: ADMIN_KEY };
  const v1 = await file('v1.json', {
    type: 'object',
    additionalProperties: false,
    properties: { amount: { type: 'number' } },
  });
  const put = await schemas(['put', 'purchase', '--file', v1], admin);
  assert.equal(put.code, 0, put.stderr);
  assert.equal(put.stdout, 'purchase: v1 registered (new type)\n');

  const v2 = await file('v2.json', {
    type: 'object',
    additionalProperties: false,
    properties: { amount: { type: 'number' }, coupon: { type: 'string' } },
  });
  const dry = await schemas(['put', 'purchase', '--file', v2, '--dry-run'], admin);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(
    dry.stdout,
    'purchase: would be v2 registered (dry run)\n  + /properties/coupon {"type":"string"}\n',
  );
  assert.equal(
    (await schemas(['put', 'purchase', '--file', v2], admin)).stdout,
    'purchase: v2 registered\n',
  );

  const breaking = await file('v3.json', {
    type: 'object',
    additionalProperties: false,
    required: ['coupon'],
    properties: { amount: { type: 'integer' }, coupon: { type: 'string' } },
  });
  const refused = await schemas(['put', 'purchase', '--file', breaking], admin);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refused, incompatible \(409\)/);
  assert.match(refused.stderr, /coupon \[required\] v3 requires "coupon", which v2 does not/);
  assert.match(refused.stderr, /amount \[type\] v3 accepts only integers/);

  const hostile = await file('hostile.json', {
    type: 'object',
    properties: { a: { $ref: 'http://x/y' } },
  });
  const invalid = await schemas(['put', 'other', '--file', hostile], admin);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /schema\/properties\/a\/\$ref: only local references/);

  const list = await schemas(['list'], admin);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /purchase\s+v2\s+backward\s+reject/);
  const got = await schemas(['get', 'purchase', '--version', '1'], admin);
  assert.deepEqual(JSON.parse(got.stdout), {
    type: 'object',
    additionalProperties: false,
    properties: { amount: { type: 'number' } },
  });
  assert.match(got.stderr, /purchase v1 of 2, backward, reject; by ADMIN_API_KEY/);

  const diff = await schemas(['diff', 'purchase'], admin);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, /^purchase v1 → v2\n {2}\+ \/properties\/coupon/);
  assert.match(diff.stdout, /backward: compatible\n/);
  assert.match(
    diff.stdout,
    /forward: breaks\n {2}coupon \[additionalProperties\] v1 does not allow "coupon"/,
  );

  const versions = await schemas(['versions', 'purchase', '--json'], admin);
  assert.deepEqual(
    (JSON.parse(versions.stdout).versions as { version: number }[]).map((v) => v.version),
    [1, 2],
  );

  const deprecated = await schemas(
    [
      'set',
      'purchase',
      '--deprecate',
      '--message',
      'use order_paid',
      '--on-violation',
      'quarantine',
    ],
    admin,
  );
  assert.equal(deprecated.code, 0, deprecated.stderr);
  assert.equal(
    deprecated.stdout,
    'purchase: updated: backward, quarantine, deprecated (use order_paid)\n',
  );

  const readOnly = await schemas(['put', 'purchase', '--file', v2], { HERALD_URL: url });
  assert.equal(readOnly.code, 1);
  assert.match(readOnly.stderr, /admin scope/);
  const missing = await schemas(['get', 'nothing'], admin);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /404 .*no schema is registered for "nothing"/);
});

test('herald schemas runs as a real command: usage errors exit 2 with the help', {
  timeout: CLI_TIMEOUT_MS,
}, async () => {
  const usage = await herald(['schemas', 'put', 'purchase'], {}, CLI_TIMEOUT_MS);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /schemas put needs --file/);
  assert.match(usage.stderr, /herald schemas: the event contracts/);
  const bad = await herald(
    ['schemas', 'set', 'x', '--compatibility', 'sideways'],
    {},
    CLI_TIMEOUT_MS,
  );
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--compatibility: must be one of backward, forward, full, none/);
});
