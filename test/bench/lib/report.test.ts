import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATEST_RUN_BEGIN, LATEST_RUN_END, withLatestRun } from '../../../bench/lib/report.ts';

test('a run replaces the tables between the latest-run markers of bench/README.md, and nothing else', () => {
  const readme = `# Benchmarks\n\nhow to run\n\n${LATEST_RUN_BEGIN}\nold tables\n${LATEST_RUN_END}\n`;
  const updated = withLatestRun(readme, '### Ingest\n\nnew tables\n');
  assert.equal(
    updated,
    `# Benchmarks\n\nhow to run\n\n${LATEST_RUN_BEGIN}\n### Ingest\n\nnew tables\n${LATEST_RUN_END}\n`,
  );
  assert.equal(withLatestRun(updated, '### Ingest\n\nnew tables\n'), updated);
});

test('a README without the markers is refused rather than left without results', () => {
  assert.throws(() => withLatestRun('# Benchmarks\n', 'tables'), /lacks the lines/);
});
