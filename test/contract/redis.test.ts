import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisBroker } from '../../src/adapters/brokers/redis/broker.ts';
import { brokerContract } from './broker-contract.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

brokerContract('Redis Streams', async (t, { partitions, sessionMs }) => {
  // A namespace per test; its keys are deleted afterwards unless HERALD_KEEP_TEST_DATA is set.
  const prefix = `herald-test-${randomBytes(5).toString('hex')}`;
  const open = () =>
    RedisBroker.open({ url: REDIS_URL, prefix, partitions, leaseMs: sessionMs, pollMs: 20 });
  const brokers: RedisBroker[] = [];
  const another = async () => {
    const broker = await open();
    brokers.push(broker);
    return broker;
  };
  t.after(async () => {
    for (const broker of brokers) await broker.close();
    if (process.env.HERALD_KEEP_TEST_DATA !== undefined) return;
    const client = new Redis(REDIS_URL);
    try {
      const keys = await client.keys(`${prefix}:*`);
      if (keys.length > 0) await client.del(...keys);
    } finally {
      client.disconnect();
    }
  });
  return {
    broker: await another(),
    another,
    async crash(broker, consumer) {
      // The connection drops: lease renewals fail, so the lease runs out after leaseMs.
      if (broker instanceof RedisBroker) broker.client.disconnect();
      void consumer.stop();
    },
  };
});
