import { hostname } from 'node:os';
import { AGENT_GROUP } from '../app/agents/runner.ts';
import { NOTIFICATION_GROUP } from '../app/notifications/service.ts';
import type { Config } from '../config.ts';

/** The consumer group of the processing workers; its lag is the queue depth. */
export const WORKER_GROUP = 'herald-processors';

/** The consumer groups whose lag `herald_consumer_lag` reports: every one this config runs. */
export function consumerGroups(config: Config): string[] {
  return [
    WORKER_GROUP,
    ...(config.agentsEnabled ? [AGENT_GROUP] : []),
    ...(config.notificationsEnabled ? [NOTIFICATION_GROUP] : []),
  ];
}

/**
 * An id no other consumer (or lease holder) of any process has: this host, this process, what
 * it is (`agents`, `notify`; none for the worker and the outbox relay) and a random suffix,
 * e.g. `web-1-4242-agents-k3j9x2`.
 */
export function consumerId(role?: string): string {
  const random = Math.random().toString(36).slice(2, 8);
  return [hostname(), process.pid, ...(role === undefined ? [] : [role]), random].join('-');
}
