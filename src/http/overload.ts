import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ErrorCodes } from '../errors.ts';
import { problemOf, sendProblem } from './problem.ts';

export interface OverloadOptions {
  /** Event-loop delay (p99 over the last second, ms) beyond which ingestion is refused; 0 = off. */
  maxEventLoopDelayMs: number;
  /** Events waiting for a commit beyond which ingestion is refused; 0 = off. */
  maxPendingEvents: number;
  pendingEvents: () => number;
}

const RETRY_AFTER_SECONDS = '1';

/**
 * Load shedding for the ingestion routes: when the process is behind (a stalled event loop, or
 * more events waiting for a commit than it can make durable soon), answer 503 + Retry-After at
 * once instead of queueing work it may not be able to finish. Reads and health checks are not
 * shed, so probes keep telling the truth.
 */
export const overloadGuard = fp(
  async (app: FastifyInstance, options: OverloadOptions) => {
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    let delayMs = 0;
    let sampler: NodeJS.Timeout | undefined;
    // Measured from the moment the server listens: the start (loading modules, migrating)
    // stalls the loop by design, and counting that would shed the first second of traffic.
    app.addHook('onListen', async () => {
      if (sampler !== undefined) return;
      histogram.enable();
      sampler = setInterval(() => {
        delayMs = histogram.percentile(99) / 1e6;
        histogram.reset();
      }, 1000);
      sampler.unref();
    });
    app.addHook('onClose', async () => {
      clearInterval(sampler);
      histogram.disable();
    });

    app.addHook('onRequest', async (request, reply) => {
      if (request.method !== 'POST') return;
      const route = request.routeOptions.url ?? '';
      if (route !== '/events' && !route.startsWith('/api/v1/events')) return;
      const pending = options.pendingEvents();
      const tooSlow = options.maxEventLoopDelayMs > 0 && delayMs > options.maxEventLoopDelayMs;
      const tooMuch = options.maxPendingEvents > 0 && pending > options.maxPendingEvents;
      if (!tooSlow && !tooMuch) return;
      reply.header('retry-after', RETRY_AFTER_SECONDS);
      return sendProblem(
        reply,
        problemOf(
          ErrorCodes.OVERLOADED,
          tooMuch
            ? `${pending} events are waiting to be made durable`
            : `event loop delayed ${Math.round(delayMs)} ms`,
        ),
      );
    });
  },
  { name: 'herald-overload-guard' },
);
