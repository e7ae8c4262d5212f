import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Script } from 'node:vm';
import { DEPLOY, dockerfileProblems, parseDockerfile, ROOT, readText } from './manifests.ts';

const dockerfile = readText(join(DEPLOY, 'Dockerfile'));
const { stages } = parseDockerfile(dockerfile);
const runtime = stages.at(-1);

test('the image is multi-stage on node:24, non-root, health-checked, one entrypoint for every role', () => {
  assert.deepEqual(dockerfileProblems(dockerfile), []);
});

test('the HEALTHCHECK is valid JavaScript that asks /health on PORT, or a worker’s /health/live on OPS_PORT', () => {
  const healthcheck = runtime?.instructions.find((i) => i.keyword === 'HEALTHCHECK')?.args ?? '';
  const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('['))) as string[];
  assert.deepEqual(command.slice(0, 2), ['node', '-e']);
  const script = command[2] ?? '';
  assert.doesNotThrow(() => new Script(script), 'the script compiles');
  assert.match(script, /process\.env\.PORT/);
  assert.match(script, /'\/health'/);
  assert.match(script, /process\.env\.OPS_PORT/);
  assert.match(script, /'\/health\/live'/);
});

test('.dockerignore keeps everything the image copies from the build context, and no node_modules', () => {
  const ignore = readText(join(ROOT, '.dockerignore'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  assert.equal(ignore[0], '**', 'everything is excluded unless listed');
  const kept = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
  const sources = stages
    .flatMap((s) => s.instructions)
    .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  assert.ok(sources.length > 0);
  for (const source of sources) {
    assert.ok(existsSync(join(ROOT, source)), `${source} exists`);
    assert.ok(
      kept.some((k) => source === k || source.startsWith(`${k}/`)),
      `${source} is in the build context`,
    );
  }
  assert.ok(!kept.some((k) => k.includes('node_modules')));
  assert.ok(ignore.includes('dashboard/dist'), 'a local dashboard build never enters the image');
});

test('the Dockerfile checks catch plausible mistakes', () => {
  const mistakes: [string, string, RegExp][] = [
    ['running as root', dockerfile.replace('USER 1000:1000', 'USER root'), /runs as root/],
    [
      'no health check',
      dockerfile.replace(/HEALTHCHECK[\s\S]*?\n(?=#)/, ''),
      /no HEALTHCHECK on \/health/,
    ],
    [
      'dev dependencies in the runtime',
      dockerfile.replace('npm ci --omit=dev', 'npm ci'),
      /not installed with npm ci --omit=dev/,
    ],
    [
      'an older Node',
      dockerfile.replace('node:24-bookworm-slim', 'node:20-bookworm-slim'),
      /node:20-bookworm-slim is not an official node:24 image/,
    ],
    ['a single stage', `FROM node:24-slim\nUSER node\nCMD ["start"]\n`, /not a multi-stage build/],
    [
      'no dashboard build',
      dockerfile.replace('RUN node dashboard/build.ts --force', ''),
      /dashboard is not built/,
    ],
    [
      'an unknown role',
      dockerfile.replace('CMD ["start"]', 'CMD ["serve"]'),
      /not a herald command/,
    ],
  ];
  for (const [what, text, expected] of mistakes) {
    assert.notEqual(text, dockerfile, `${what}: the mutation applies`);
    assert.match(dockerfileProblems(text).join('\n'), expected, what);
  }
});
