import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KafkaBroker } from '../../src/adapters/brokers/kafka/broker.ts';
import { brokerContract } from './broker-contract.ts';

const KAFKA_BROKERS = (process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const script = fileURLToPath(new URL('../../scripts/kafka.sh', import.meta.url));

before(async () => {
  const [first = '127.0.0.1:9092'] = KAFKA_BROKERS;
  if (await answers(first)) return;
  // The first start fetches the broker jars from Maven Central: minutes, once.
  try {
    await promisify(execFile)(script, ['start'], { timeout: 600_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `Kafka at ${first} is not running and scripts/kafka.sh start failed: ${stderr}`,
    );
  }
});

brokerContract(
  'Kafka',
  async (t, { partitions, sessionMs }) => {
    const open = () =>
      KafkaBroker.open({
        brokers: KAFKA_BROKERS,
        clientId: 'herald-test',
        partitions,
        // The broker's group.min.session.timeout.ms is 6 s.
        sessionTimeoutMs: Math.max(sessionMs, 6000),
        heartbeatIntervalMs: 500,
      });
    const brokers: KafkaBroker[] = [];
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
      async crash(broker) {
        if (broker instanceof KafkaBroker) await broker.crash();
      },
    };
  },
  { timeoutMs: 30_000 },
);

function answers(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
