import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  BEGIN_MARKER,
  END_MARKER,
  formatDefault,
  generatedReference,
  REFERENCE_PATH,
  renderSettings,
  updateReference,
} from '../../scripts/config-reference.ts';
import { configSettings } from '../../src/config.ts';

test('docs/configuration.md is what `npm run docs:config` generates from the settings in src/config.ts', () => {
  const document = readFileSync(REFERENCE_PATH, 'utf8');
  assert.ok(
    generatedReference(document, configSettings) === document,
    'docs/configuration.md is stale: run `npm run docs:config` and commit the result',
  );
});

test('the reference lists every declared setting, the four the hand-written table missed among them', () => {
  const document = readFileSync(REFERENCE_PATH, 'utf8');
  for (const setting of configSettings) {
    assert.match(document, new RegExp(`\\| \`${setting.env}\` +\\|`), `${setting.env} listed`);
  }
  for (const env of [
    'MAX_JSON_DEPTH',
    'OVERLOAD_PENDING_EVENTS',
    'RATE_LIMIT_PER_MINUTE',
    'REQUEST_TIMEOUT_MS',
  ]) {
    assert.match(document, new RegExp(`\\| \`${env}\` +\\|`), `${env} listed`);
  }
});

test('settings without an area make one table, in declaration order, with defaults as written in the environment', () => {
  const tables = renderSettings([
    { env: 'PORT', default: 8000, description: 'HTTP port' },
    { env: 'DATABASE_URL', default: undefined, description: 'a server', secret: true },
    { env: 'NOTIFY_TOPICS', default: [], description: 'more topics' },
    { env: 'LINE', default: 'a|b', description: 'x | y' },
  ]);
  assert.equal(
    tables,
    [
      '| variable | default | meaning |',
      '| --- | --- | --- |',
      '| `PORT` | `8000` | HTTP port |',
      '| `DATABASE_URL` | — | a server (secret: masked by `herald config` and in logs) |',
      '| `NOTIFY_TOPICS` | — | more topics |',
      '| `LINE` | `a\\|b` | x \\| y |',
    ].join('\n'),
  );
});

test('settings with an area get a table per area, in the order areas first appear; the rest come last', () => {
  const tables = renderSettings([
    { env: 'PORT', default: 8000, description: 'HTTP port', area: 'HTTP' },
    { env: 'BROKER', default: 'postgres', description: 'transport', area: 'Broker' },
    { env: 'HOST', default: '127.0.0.1', description: 'bind address', area: 'HTTP' },
    { env: 'LOG_LEVEL', default: 'info', description: 'pino level' },
  ]);
  const headings = tables.split('\n').filter((line) => line.startsWith('### '));
  assert.deepEqual(headings, ['### HTTP', '### Broker', '### Other settings']);
  assert.ok(
    tables.indexOf('`HOST`') < tables.indexOf('### Broker'),
    'HOST is in the HTTP table, although declared after BROKER',
  );
});

test('durations also read as time; other numbers stay as they are', () => {
  assert.equal(formatDefault('WORKER_LEASE_MS', 30000), '`30000` (30 s)');
  assert.equal(formatDefault('LOGIN_WINDOW_MS', 900000), '`900000` (15 min)');
  assert.equal(formatDefault('SESSION_TTL_MS', 86400000), '`86400000` (1 d)');
  assert.equal(formatDefault('WORKER_POLL_MS', 100), '`100`');
  assert.equal(formatDefault('MAX_BODY_BYTES', 1048576), '`1048576`');
  assert.equal(formatDefault('AGENTS_ENABLED', true), '`true`');
});

test('regenerating rewrites only what lies between the markers, and refuses a document without them', () => {
  const document = `# Title\n\nprose\n\n${BEGIN_MARKER}\nold table\n${END_MARKER}\n\n## Tracing\n`;
  const settings = [{ env: 'PORT', default: 8000, description: 'HTTP port' }];
  const updated = updateReference(document, settings);
  assert.ok(updated.startsWith(`# Title\n\nprose\n\n${BEGIN_MARKER}\n\n| variable |`));
  assert.ok(
    updated.endsWith(`| \`PORT\` | \`8000\` | HTTP port |\n\n${END_MARKER}\n\n## Tracing\n`),
  );
  assert.ok(!updated.includes('old table'));
  assert.equal(updateReference(updated, settings), updated, 'a second run changes nothing');
  assert.throws(() => updateReference('# no markers\n', settings), /must hold the lines/);
});
