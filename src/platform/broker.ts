import { PostgresBroker } from '../adapters/brokers/postgres/broker.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';

/**
 * The configured transport between API and workers. The Postgres event log lives in Herald's
 * database; Redis and Kafka are reached over the network and namespaced by BROKER_NAMESPACE.
 */
export async function openBroker(config: Config, db: Database, logger: Logger): Promise<Broker> {
  switch (config.broker) {
    case 'postgres': {
      const broker = await PostgresBroker.open(db, {
        partitions: config.queuePartitions,
        leaseMs: config.workerLeaseMs,
        pollMs: config.workerPollMs,
      });
      if (broker.partitionCount !== config.queuePartitions) {
        logger.warn(
          { configured: config.queuePartitions, existing: broker.partitionCount },
          'QUEUE_PARTITIONS differs from the existing log; keeping the existing partition count',
        );
      }
      return broker;
    }
    case 'redis': {
      const { RedisBroker } = await import('../adapters/brokers/redis/broker.ts');
      return RedisBroker.open({
        url: config.redisUrl ?? '',
        prefix: config.brokerNamespace,
        partitions: config.queuePartitions,
        leaseMs: config.workerLeaseMs,
        pollMs: config.workerPollMs,
      });
    }
    case 'kafka': {
      const { KafkaBroker } = await import('../adapters/brokers/kafka/broker.ts');
      return KafkaBroker.open({
        brokers: config.kafkaBrokers,
        clientId: config.brokerNamespace,
        namespace: config.brokerNamespace,
        partitions: config.queuePartitions,
        sessionTimeoutMs: config.kafkaSessionTimeoutMs,
        replicationFactor: config.kafkaReplicationFactor,
        heartbeatIntervalMs: Math.max(500, Math.floor(config.kafkaSessionTimeoutMs / 5)),
      });
    }
  }
}
