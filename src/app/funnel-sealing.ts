import type { Logger } from '../observability/logger.ts';
import type { FunnelSealer } from '../ports/analytics.ts';

export interface FunnelSealingOptions {
  /** Between rounds once caught up (ANALYTICS_SEAL_INTERVAL_MS). */
  intervalMs: number;
  /** A round that sealed this many hours was full: more are waiting. */
  hoursPerRound: number;
}

/** Between full rounds: a backlog is worked off steadily without taking the database over. */
const BACKLOG_PAUSE_MS = 250;

/**
 * Seals funnel hours in the background of a worker: a round every `intervalMs`, and rounds
 * one after another while a backlog lasts (after an upgrade, or a long pause), so history is
 * sealed in minutes rather than days. A failed round is logged and tried again at the next
 * interval: sealing makes funnels faster, never more correct, so it never stops a worker.
 *
 * @example
 * const sealing = new FunnelSealing(new PostgresFunnelSealer(db, options), logger, { intervalMs: 60_000, hoursPerRound: 48 });
 * sealing.start();
 * await sealing.stop();
 */
export class FunnelSealing {
  readonly #sealer: FunnelSealer;
  readonly #logger: Logger;
  readonly #options: FunnelSealingOptions;
  #running: Promise<void> | undefined;
  #stopping = false;
  #wakeUp: (() => void) | undefined;
  #sealed = 0;

  constructor(sealer: FunnelSealer, logger: Logger, options: FunnelSealingOptions) {
    this.#sealer = sealer;
    this.#logger = logger;
    this.#options = options;
  }

  /** Hours sealed since start. */
  get sealed(): number {
    return this.#sealed;
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  /** Lets the round in flight finish (it is one short transaction), then returns. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wakeUp?.();
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let sealed = 0;
      try {
        sealed = await this.#sealer.sealRound();
        this.#sealed += sealed;
        if (sealed > 0) this.#logger.debug({ hours: sealed }, 'funnel hours sealed');
      } catch (error) {
        this.#logger.warn({ err: error }, 'funnel sealing failed; trying again next round');
      }
      const backlog = sealed >= this.#options.hoursPerRound;
      await this.#sleep(backlog ? BACKLOG_PAUSE_MS : this.#options.intervalMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(wake, ms);
      function wake() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeUp = wake;
    });
  }
}
