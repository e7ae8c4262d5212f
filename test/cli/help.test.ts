import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columns, flagOf, HELP_WIDTH, optionsHelp, wrap } from '../../src/cli/help.ts';
import { configSettings } from '../../src/config.ts';

test('a column is as wide as its longest cell: a long option name moves the next column, never into it', () => {
  const rows = [
    ['--port', 'PORT', 'HTTP port'],
    ['--webhook-allow-private-targets', 'WEBHOOK_ALLOW_PRIVATE_TARGETS', 'private targets'],
  ];
  const [short = '', long = ''] = columns(rows, { width: 120 }).split('\n');
  assert.equal(short.indexOf('PORT'), long.indexOf('WEBHOOK_ALLOW_PRIVATE_TARGETS'));
  assert.equal(short.indexOf('HTTP port'), long.indexOf('private targets'));
  assert.ok(long.indexOf('WEBHOOK') > long.indexOf('--webhook-allow-private-targets') + 31);
  // Too little room beside them: the descriptions go under their rows, the columns stay.
  const narrow = columns(rows, { width: 80 }).split('\n');
  assert.deepEqual(
    narrow.map((line) => line.trim().split(/ +/)[0]),
    ['--port', 'HTTP', '--webhook-allow-private-targets', 'private'],
  );
  assert.equal(narrow[0]?.indexOf('PORT'), narrow[2]?.indexOf('WEBHOOK'));
});

test('descriptions wrap at spaces within the width, continuation lines under the description', () => {
  const text =
    'how long a partition may stand still while events wait before it is reported stalled';
  const lines = wrap(text, 30);
  assert.ok(
    lines.every((line) => line.length <= 30),
    JSON.stringify(lines),
  );
  assert.equal(lines.join(' '), text, 'every word kept, in order');
  const table = columns([['--a', 'A', text]], { width: 60 }).split('\n');
  assert.ok(table.length > 1);
  const start = (table[0] ?? '').indexOf('how');
  for (const line of table.slice(1)) {
    assert.equal(line.length - line.trimStart().length, start, JSON.stringify(line));
  }
});

test('herald --help lists every setting as --flag and VARIABLE in aligned columns, no line wider than the help', () => {
  const help = optionsHelp(configSettings);
  const lines = help.split('\n');
  for (const line of lines) assert.ok(line.length <= HELP_WIDTH, `too wide: ${line}`);
  const optionLines = lines.filter((line) => line.startsWith('  --'));
  const variableColumn = new Set<number>();
  for (const setting of configSettings) {
    const line = optionLines.find((l) => l.startsWith(`  ${flagOf(setting.env)} `));
    assert.ok(line !== undefined, `${setting.env} is listed`);
    variableColumn.add(line.indexOf(` ${setting.env}`) + 1);
  }
  assert.equal(variableColumn.size, 1, 'every variable starts in the same column');
  assert.ok(help.includes('\n  --help'), '--help is listed');
  for (const area of new Set(configSettings.map((s) => s.area))) {
    assert.ok(lines.includes(`${area}:`), `the ${area} heading`);
  }
});
