import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { anchorsIn, brokenLinks, linksIn, slug } from './markdown.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The documentation: the top-level documents, the bench's README, and everything in docs/. */
function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name));
  return ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'bench/README.md', ...docs.sort()];
}

test('every relative link and #anchor in the README, docs/, bench/README.md, CONTRIBUTING.md and SECURITY.md resolves', () => {
  const files = documents();
  assert.ok(files.length > 5, `found the documents (${files.join(', ')})`);
  const broken = files.flatMap((file) => brokenLinks(join(ROOT, file), ROOT));
  assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
});

test('anchors are made from headings as GitHub makes them', () => {
  assert.equal(slug('The `herald` command'), 'the-herald-command');
  assert.equal(slug('End to end: accepted → persisted'), 'end-to-end-accepted--persisted');
  assert.equal(
    slug('3. The broker: one append (`log_append`)'),
    '3-the-broker-one-append-log_append',
  );
  assert.equal(slug('Tracing (OpenTelemetry)'), 'tracing-opentelemetry');
  assert.equal(slug('**Bold** and [a link](x.md)'), 'bold-and-a-link');
  const anchors = anchorsIn(
    '# Title\n## Usage\n```\n## not a heading\n```\n## Usage\n## The `herald` command\n',
  );
  assert.deepEqual([...anchors], ['title', 'usage', 'usage-1', 'the-herald-command']);
});

test('links in code are not links; inline, reference and HTML links are', () => {
  const markdown = [
    'See [the API](docs/api.md#events) and ![a picture](docs/dashboard.png "title").',
    '`[not](a-link.md)` and <https://example.com/x>',
    '```',
    '[not a link either](nowhere.md)',
    '```',
    '[ref]: CONTRIBUTING.md',
    '<a href="SECURITY.md">security</a>',
  ].join('\n');
  assert.deepEqual(linksIn(markdown), [
    { target: 'docs/api.md#events', line: 1 },
    { target: 'docs/dashboard.png', line: 1 },
    { target: 'https://example.com/x', line: 2 },
    { target: 'CONTRIBUTING.md', line: 6 },
    { target: 'SECURITY.md', line: 7 },
  ]);
});

test('a missing file, a missing heading and a malformed URL are each reported with their line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-links-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'other.md'), '# Other\n\n## A section\n');
  writeFileSync(
    join(dir, 'doc.md'),
    [
      '# Doc',
      '[fine](other.md#a-section) [fine too](#doc) [external](https://example.com/page)',
      '[gone](missing.md)',
      '[no such heading](other.md#nowhere)',
      '[here neither](#nowhere)',
      '[bad url](https://)',
    ].join('\n'),
  );
  assert.deepEqual(brokenLinks(join(dir, 'doc.md'), dir), [
    'doc.md:3 missing.md: missing.md does not exist',
    'doc.md:4 other.md#nowhere: no heading "#nowhere" in other.md',
    'doc.md:5 #nowhere: no heading "#nowhere" in doc.md',
    'doc.md:6 https://: not a well-formed http(s) or mailto URL',
  ]);
});
