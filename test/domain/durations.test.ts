import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from '../../src/domain/durations.ts';

test('a duration is written with a unit (ms, s, m, h, d, w) or as milliseconds', () => {
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('12h'), 43_200_000);
  assert.equal(parseDuration('30m'), 1_800_000);
  assert.equal(parseDuration('45s'), 45_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('2w'), 1_209_600_000);
  assert.equal(parseDuration('1500'), 1500);
  assert.equal(parseDuration(' 1d '), 86_400_000);
});

test('anything else is not a duration', () => {
  for (const text of [
    '',
    'd',
    '7 d',
    '1.5h',
    '-1d',
    '7days',
    'keep',
    '1y',
    '99999999999999999999d',
  ]) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

test('a duration is shown in its largest exact unit', () => {
  assert.equal(formatDuration(604_800_000), '1w');
  assert.equal(formatDuration(86_400_000), '1d');
  assert.equal(formatDuration(90_000), '90s');
  assert.equal(formatDuration(5_400_000), '90m');
  assert.equal(formatDuration(1500), '1500ms');
  for (const ms of [1000, 60_000, 3_600_000, 123_456]) {
    assert.equal(parseDuration(formatDuration(ms)), ms, 'it reads back as the same duration');
  }
});
