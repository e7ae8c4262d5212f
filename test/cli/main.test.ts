import assert from 'node:assert/strict';
import { test } from 'node:test';
import { herald } from './commands/run-cli.ts';

// Starting a Node process can take long on a loaded machine; these are not timing tests.
const CLI_TIMEOUT_MS = 90_000;

test('herald config shows the tracing settings; a malformed endpoint stops the CLI with exit 2', async () => {
  const off = await herald(['config'], { OTEL_EXPORTER_OTLP_ENDPOINT: '' }, CLI_TIMEOUT_MS);
  assert.equal(off.code, 0, off.stderr);
  assert.equal(JSON.parse(off.stdout).tracing, 'off');
  const on = await herald(
    ['config'],
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:s3cret@127.0.0.1:4318',
      OTEL_SERVICE_NAME: 'herald-worker',
    },
    CLI_TIMEOUT_MS,
  );
  assert.equal(on.code, 0, on.stderr);
  assert.deepEqual(JSON.parse(on.stdout).tracing, {
    endpoint: 'http://user:***@127.0.0.1:4318/v1/traces',
    serviceName: 'herald-worker',
  });
  const bad = await herald(
    ['start'],
    { OTEL_EXPORTER_OTLP_ENDPOINT: '127.0.0.1:4318' },
    CLI_TIMEOUT_MS,
  );
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http/);
});

test('herald --help fits its width with its option columns aligned', async () => {
  const help = await herald(['--help'], {}, CLI_TIMEOUT_MS);
  assert.equal(help.code, 0, help.stderr);
  const lines = help.stdout.split('\n');
  assert.ok(
    lines.every((line) => line.length <= 100),
    'no line wider than 100 characters',
  );
  const options = lines.filter((line) => /^ {2}--[a-z-]+ +[A-Z_]+$/.test(line));
  assert.ok(options.length > 80, `${options.length} option lines`);
  const column = new Set(options.map((line) => line.search(/ [A-Z_]+$/)));
  assert.equal(column.size, 1, 'every variable starts in the same column');
});
