import type { Logger } from '../../observability/logger.ts';
import type { BrokerLog, LogStatus, PruneReport } from '../../ports/broker-log.ts';
import type { HistoryKind, RetentionStore } from '../../ports/retention-store.ts';
import type { RetentionMetrics } from './metrics.ts';

export interface MaintenanceOptions {
  holder: string;
  intervalMs: number;
  segmentMs: number;
  dedupeWindowMs: number;
  /** undefined: kept forever. */
  logRetentionMs: number | undefined;
  history: Partial<Record<HistoryKind, number>>;
  /** Rows per delete statement, and statements per kind per pass (so a pass stays short). */
  batch?: number;
  batchesPerPass?: number;
}

/** What one pass did. */
export interface MaintenanceReport {
  /** False when another process holds the maintenance lease. */
  ran: boolean;
  rolled: number | undefined;
  log: PruneReport | undefined;
  dedupe: { slot: number | undefined; ids: number };
  history: Partial<Record<HistoryKind, number>>;
  status: LogStatus | undefined;
}

/**
 * Keeps the log in shape over time, in the worker role, one process at a time (a lease): rolls
 * the Postgres log's segments, cuts the broker's log past LOG_RETENTION (never an event a
 * consumer group has not committed: those groups are reported, and the
 * herald_log_retention_blocked metric says so), empties the dedupe window's expired slot, and
 * deletes history past its own retention. Everything it removes is logged.
 */
export class LogMaintenance {
  readonly #log: BrokerLog;
  readonly #store: RetentionStore;
  readonly #metrics: RetentionMetrics;
  readonly #logger: Logger;
  readonly #options: Required<MaintenanceOptions>;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<MaintenanceReport> | undefined;
  #stopped = false;

  constructor(
    log: BrokerLog,
    store: RetentionStore,
    metrics: RetentionMetrics,
    logger: Logger,
    options: MaintenanceOptions,
  ) {
    this.#log = log;
    this.#store = store;
    this.#metrics = metrics;
    this.#logger = logger;
    this.#options = { batch: 10_000, batchesPerPass: 20, ...options };
  }

  start(): void {
    const tick = () => {
      this.#timer = setTimeout(async () => {
        await this.runOnce().catch((error: unknown) =>
          this.#logger.warn({ err: error }, 'log maintenance pass failed; trying again later'),
        );
        if (!this.#stopped) tick();
      }, this.#options.intervalMs);
      this.#timer.unref();
    };
    // The first pass soon after start: a worker that restarts must not wait a whole interval.
    this.#timer = setTimeout(() => {
      this.runOnce()
        .catch((error: unknown) =>
          this.#logger.warn({ err: error }, 'log maintenance pass failed; trying again later'),
        )
        .finally(() => {
          if (!this.#stopped) tick();
        });
    }, 0);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#pass?.catch(() => {});
    await this.#store.releaseLease(this.#options.holder).catch(() => {});
  }

  /** One pass (passes never overlap); also what `herald log prune` asks for. */
  runOnce(): Promise<MaintenanceReport> {
    this.#pass ??= this.#run().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  async #run(): Promise<MaintenanceReport> {
    const o = this.#options;
    const report: MaintenanceReport = {
      ran: false,
      rolled: undefined,
      log: undefined,
      dedupe: { slot: undefined, ids: 0 },
      history: {},
      status: undefined,
    };
    // A lease of several intervals: a pass that takes long is not taken over midway.
    const leaseMs = Math.max(o.intervalMs * 3, 30_000);
    if (!(await this.#store.acquireLease(o.holder, leaseMs))) return report;
    report.ran = true;

    report.rolled = await this.#log.roll?.(o.segmentMs);
    if (report.rolled !== undefined) {
      this.#logger.info({ segment: report.rolled }, 'event log: new segment opened');
    }

    const cutoff =
      o.logRetentionMs === undefined ? undefined : new Date(Date.now() - o.logRetentionMs);
    if (cutoff !== undefined) {
      report.log = await this.#log.prune(cutoff);
      if (report.log.count > 0) {
        this.#metrics.removed.inc({ what: 'log' }, report.log.count);
        this.#logger.info(
          { dropped: report.log.dropped, count: report.log.count, cutoff: cutoff.toISOString() },
          'event log: retention dropped events older than LOG_RETENTION',
        );
      }
      if (report.log.heldBy.length > 0) {
        this.#logger.warn(
          { groups: report.log.heldBy, cutoff: cutoff.toISOString() },
          'event log: retention held back by consumer groups that have not committed older events',
        );
      }
    }

    report.dedupe = await this.#store.clearExpiredDedupeSlot(o.dedupeWindowMs);
    if (report.dedupe.slot !== undefined) {
      this.#metrics.removed.inc({ what: 'dedupe_ids' }, report.dedupe.ids);
      this.#logger.info(
        { slot: report.dedupe.slot, ids: report.dedupe.ids },
        'dedupe window: ids older than DEDUPE_WINDOW cleared',
      );
    }

    for (const [kind, retentionMs] of Object.entries(o.history) as [HistoryKind, number][]) {
      const before = new Date(Date.now() - retentionMs);
      let removed = 0;
      for (let i = 0; i < o.batchesPerPass; i++) {
        const n = await this.#store.pruneHistory(kind, before, o.batch);
        removed += n;
        if (n < o.batch) break;
      }
      report.history[kind] = removed;
      if (removed > 0) {
        this.#metrics.removed.inc({ what: kind }, removed);
        this.#logger.info(
          { kind, removed, before: before.toISOString() },
          'retention: history removed',
        );
      }
    }

    report.status = await this.#log.status(cutoff);
    this.#record(report.status);
    return report;
  }

  #record(status: LogStatus): void {
    this.#metrics.blocked.reset();
    for (const g of status.groups)
      this.#metrics.blocked.set({ group: g.group }, g.blocking ? 1 : 0);
    if (status.oldestAt !== null) {
      this.#metrics.oldestAge.set(Math.max(0, (Date.now() - status.oldestAt.getTime()) / 1000));
    } else {
      this.#metrics.oldestAge.set(0);
    }
    this.#metrics.segments.set(status.segments.length);
  }
}
