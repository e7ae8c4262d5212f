import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgs } from '../../src/cli/args.ts';

test('flags become environment-style names, in both --name value and --name=value forms; a bare flag is true', () => {
  const args = parseArgs([
    'worker',
    'extra',
    '--worker-batch-size',
    '200',
    '--port=9000',
    '--verbose',
  ]);
  assert.equal(args.command, 'worker');
  assert.deepEqual(args.flags, { WORKER_BATCH_SIZE: '200', PORT: '9000', VERBOSE: 'true' });
  assert.deepEqual(args.positionals, ['extra']);
  assert.equal(args.help, false);
});

test('--help and -h ask for help anywhere on the line', () => {
  assert.equal(parseArgs(['start', '--help']).help, true);
  assert.equal(parseArgs(['-h']).help, true);
});
