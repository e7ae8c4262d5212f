import { StallDetector } from '../app/stall-detector.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Broker } from '../ports/broker.ts';
import { consumerGroups } from './consumer-groups.ts';
import type { Stops } from './stops.ts';

/** Watches every consumer group this configuration runs for partitions that stop moving. */
export function startStallDetection(
  config: Config,
  broker: Broker,
  metrics: Metrics,
  logger: Logger,
  stops: Stops,
): StallDetector {
  const detector = new StallDetector(broker, {
    groups: consumerGroups(config),
    stallAfterMs: config.stallAfterMs,
    logger,
    metrics,
  });
  detector.start();
  stops.add('stall detection', () => detector.stop());
  return detector;
}
