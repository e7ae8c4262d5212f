import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const README = new URL('../../README.md', import.meta.url);

test('the README stays what a newcomer reads in ten minutes: at most 300 lines', () => {
  const lines = readFileSync(README, 'utf8').split('\n').length;
  assert.ok(lines <= 300, `README.md has ${lines} lines; move detail into docs/`);
});

test('the README shows how to send each seed flow: analytics, chemical, EventFlow and users', () => {
  const readme = readFileSync(README, 'utf8');
  for (const request of [
    'POST "http://localhost:8000/api/v1/events/analytics"',
    'POST "http://localhost:8000/api/v1/events/chemical"',
    '/api/v1/analytics/user/user_12345',
    '/api/v1/analytics/researcher/Dr.%20Jane%20Smith',
    'POST http://localhost:8000/events',
    'POST http://localhost:8000/users/',
    'POST http://localhost:8000/users/login',
  ]) {
    assert.ok(readme.includes(request), `README.md shows ${request}`);
  }
});
