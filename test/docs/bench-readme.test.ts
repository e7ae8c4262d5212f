import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { LATEST_RUN_BEGIN, LATEST_RUN_END } from '../../bench/lib/report.ts';
import { withoutTablePadding } from './markdown.ts';

test('bench/README.md shows the latest recorded run: the tables of bench/results/README-table.md', () => {
  const readme = readFileSync(new URL('../../bench/README.md', import.meta.url), 'utf8');
  const recorded = readFileSync(
    new URL('../../bench/results/README-table.md', import.meta.url),
    'utf8',
  );
  const begin = readme.indexOf(LATEST_RUN_BEGIN);
  const end = readme.indexOf(LATEST_RUN_END);
  assert.ok(begin !== -1 && end > begin, 'bench/README.md has the latest-run markers');
  const shown = readme.slice(begin + LATEST_RUN_BEGIN.length + 1, end);
  // `npm run bench` formats bench/README.md (Biome pads the table columns); the results file not.
  assert.ok(
    withoutTablePadding(shown) === withoutTablePadding(recorded),
    'bench/README.md differs from bench/results/README-table.md: `npm run bench` writes both',
  );
});

test('comparing tables ignores only the padding of their columns, not their content', () => {
  const compact = '| system | req/s |\n| --- | ---: |\n| node:http | 6,063 |';
  const padded = '| system    | req/s |\n| --------- | ----: |\n| node:http | 6,063 |';
  assert.equal(withoutTablePadding(padded), withoutTablePadding(compact));
  assert.notEqual(
    withoutTablePadding(padded.replace('6,063', '6,064')),
    withoutTablePadding(compact),
  );
});
