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
        dedupeWindowMs: config.dedupeWindowMs,
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
      return withDedupeWindow(
        config,
        db,
        logger,
        await RedisBroker.open({
          url: config.redisUrl ?? '',
          prefix: config.brokerNamespace,
          partitions: config.queuePartitions,
          leaseMs: config.workerLeaseMs,
          pollMs: config.workerPollMs,
          retainLog: config.logRetentionMs !== undefined,
        }),
      );
    }
    case 'kafka': {
      const { KafkaBroker } = await import('../adapters/brokers/kafka/broker.ts');
      const retention = config.logRetentionMs;
      return withDedupeWindow(
        config,
        db,
        logger,
        await KafkaBroker.open({
          brokers: config.kafkaBrokers,
          clientId: config.brokerNamespace,
          namespace: config.brokerNamespace,
          partitions: config.queuePartitions,
          sessionTimeoutMs: config.kafkaSessionTimeoutMs,
          replicationFactor: config.kafkaReplicationFactor,
          heartbeatIntervalMs: Math.max(500, Math.floor(config.kafkaSessionTimeoutMs / 5)),
          // Herald cuts at LOG_RETENTION what every group has committed; Kafka's own retention,
          // twice that, is the backstop for a group stalled that long (issue #20).
          ...(retention === undefined
            ? {}
            : { topicRetention: { retentionMs: 2 * retention, segmentMs: config.logSegmentMs } }),
        }),
      );
    }
  }
}

/** Kafka and Redis cannot tell a resent id: the dedupe window is kept in the database. */
async function withDedupeWindow(
  config: Config,
  db: Database,
  logger: Logger,
  broker: Broker,
): Promise<Broker> {
  const [{ DedupingBroker }, { PostgresDedupeStore }] = await Promise.all([
    import('../app/dedupe.ts'),
    import('../adapters/store/postgres/dedupe.ts'),
  ]);
  return new DedupingBroker(broker, new PostgresDedupeStore(db), logger, {
    windowMs: config.dedupeWindowMs,
  });
}
