import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stops } from '../../src/platform/stops.ts';

test('parts stop in reverse start order, each once', async () => {
  const stops = new Stops();
  const stopped: string[] = [];
  for (const part of ['database', 'broker', 'worker', 'api']) {
    stops.add(part, async () => {
      stopped.push(part);
    });
  }
  await stops.stopAll();
  await stops.stopAll();
  assert.deepEqual(stopped, ['api', 'worker', 'broker', 'database']);
});

test('a part that fails to stop does not keep the others running; its failure is thrown after', async () => {
  const stops = new Stops();
  const stopped: string[] = [];
  stops.add('database', async () => {
    stopped.push('database');
  });
  stops.add('worker', async () => {
    throw new Error('consumer stuck');
  });
  stops.add('api', async () => {
    stopped.push('api');
  });
  await assert.rejects(stops.stopAll(), /stopping worker failed: Error: consumer stuck/);
  assert.deepEqual(stopped, ['api', 'database']);
});
