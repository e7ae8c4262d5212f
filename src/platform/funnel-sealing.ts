import { PostgresFunnelSealer, WORKER_SEALING } from '../adapters/store/postgres/funnel-sealer.ts';
import { FunnelSealing } from '../app/funnel-sealing.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Database } from '../ports/database.ts';
import type { Stops } from './stops.ts';

/**
 * Packs closed hours for fast funnels (worker role, ANALYTICS_SEAL_INTERVAL_MS > 0). Made
 * here, started by the caller once nothing can fail the start any more.
 */
export function funnelSealing(config: Config, db: Database, logger: Logger, stops: Stops) {
  const sealing = new FunnelSealing(new PostgresFunnelSealer(db, WORKER_SEALING), logger, {
    intervalMs: config.analyticsSealIntervalMs,
    hoursPerRound: WORKER_SEALING.hoursPerRound,
  });
  stops.add('funnel sealing', () => sealing.stop());
  return sealing;
}
