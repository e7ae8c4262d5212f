import type { StalledShard } from '../app/stall-detector.ts';
import type { Config } from '../config.ts';
import { ErrorCodes, HeraldError } from '../errors.ts';
import { type OpsServer, startOpsServer } from '../http/ops-server.ts';
import { dependencyProbes } from '../http/readiness.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';
import type { Stops } from './stops.ts';

/**
 * Health and metrics of a process without the API (OPS_PORT), started before its consumers so
 * that probes see a starting process as alive rather than absent, and stopped after them: a
 * terminating pod still answers its liveness probe while it drains. Ready once `consumers`
 * (the worker role's) does not throw. A port that cannot be had is a configuration error.
 */
export async function listenOps(
  config: Config,
  deps: {
    db: Database;
    broker: Broker;
    metrics: Metrics;
    logger: Logger;
    stalls: () => readonly StalledShard[];
    consumers: (() => void) | undefined;
  },
  stops: Stops,
): Promise<OpsServer> {
  const { db, broker, metrics, logger, stalls, consumers } = deps;
  let ops: OpsServer;
  try {
    ops = await startOpsServer({
      host: config.host,
      port: config.opsPort,
      metrics,
      readiness: {
        ...dependencyProbes(db, broker),
        ...(consumers === undefined ? {} : { consumer: consumers }),
      },
      stalls,
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? String(error);
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `OPS_PORT: cannot listen on ${config.host}:${config.opsPort} (${code})`,
      { cause: error, details: { setting: 'OPS_PORT' } },
    );
  }
  stops.add('ops server', () => ops.close());
  logger.info({ url: ops.url }, 'ops endpoints listening');
  return ops;
}
