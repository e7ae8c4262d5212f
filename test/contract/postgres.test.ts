import { PostgresBroker } from '../../src/adapters/brokers/postgres/broker.ts';
import { DATABASES } from '../helpers/databases.ts';
import { brokerContract } from './broker-contract.ts';

for (const database of DATABASES) {
  brokerContract(`Postgres [${database.kind}]`, async (t, { partitions, sessionMs }) => {
    const db = await database.open(t);
    // Brokers over one database stand for processes sharing it.
    const open = () => PostgresBroker.open(db, { partitions, leaseMs: sessionMs, pollMs: 10 });
    const brokers: PostgresBroker[] = [];
    const another = async () => {
      const broker = await open();
      brokers.push(broker);
      return broker;
    };
    t.after(async () => {
      for (const broker of brokers) await broker.close();
    });
    return {
      broker: await another(),
      another,
      async crash(_broker, consumer, consumerId) {
        // What a killed process leaves: leases nobody renews, here already run out. Stopped
        // first, so that the "dead" consumer claims nothing more once its leases run out.
        void consumer.stop();
        await db.query(
          `UPDATE consumer_leases SET owner = NULL, lease_expires_at = now() - interval '1 second'
           WHERE owner = $1`,
          [consumerId],
        );
      },
    };
  });
}
