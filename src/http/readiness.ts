/**
 * Readiness: whether what a process needs answers. One implementation for the API's
 * `/health/ready` and the ops server of processes without the API, so every role reports its
 * checks under the same names, the same way.
 */
import type { StalledShard } from '../app/stall-detector.ts';
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';
import { type Problem, problem } from './problem.ts';

/** Resolves (or returns) when the dependency is usable; throws or rejects when it is not. */
export type Probe = () => unknown;

export interface Readiness {
  ready: boolean;
  /** Each check's outcome: `ok`, or `unavailable: <why>`. */
  checks: Record<string, string>;
}

/**
 * How long a probe may take before it counts as unavailable, ms. Below the 3 s the manifests
 * give the kubelet's probe: a database that hangs instead of refusing (a full pool, a network
 * partition) reports not ready in an answer instead of a probe timeout with no reason.
 */
export const PROBE_TIMEOUT_MS = 2000;

/** The dependencies every role needs: the database and the broker. */
export function dependencyProbes(
  db: Pick<Database, 'query'>,
  broker: Pick<Broker, 'ping'>,
): Record<string, Probe> {
  return { database: () => db.query('SELECT 1'), broker: () => broker.ping() };
}

/** Runs the probes concurrently; ready when every one of them succeeded in time. */
export async function checkReadiness(
  probes: Record<string, Probe>,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<Readiness> {
  const outcomes = await Promise.all(
    Object.entries(probes).map(
      async ([name, probe]) => [name, await outcomeOf(probe, timeoutMs)] as const,
    ),
  );
  return {
    ready: outcomes.every(([, outcome]) => outcome === 'ok'),
    checks: Object.fromEntries(outcomes),
  };
}

/** The 503 answer of a process that is not ready: a problem naming the failing checks. */
export function notReadyProblem(checks: Record<string, string>): Problem {
  const failing = Object.entries(checks).filter(([, outcome]) => outcome !== 'ok');
  const detail = failing.map(([name, outcome]) => `${name}: ${outcome}`).join('; ');
  return { ...problem(503, 'not-ready', 'Not ready', detail), checks };
}

async function outcomeOf(probe: Probe, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(probe), timedOut]);
    return 'ok';
  } catch (error) {
    return `unavailable: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** A stalled partition as readiness, the summary and the partitions API report it. */
export interface StalledPartitionJson {
  group: string;
  topic?: string;
  partition: number;
  lag: number;
  committed_offset: number;
  /** The event that holds it, where the broker can tell. */
  head_event_id?: string;
  stalled_since: string;
  stalled_for_s: number;
}

export function stalledPartitionJson(shard: StalledShard): StalledPartitionJson {
  return {
    group: shard.group,
    ...(shard.topic === undefined ? {} : { topic: shard.topic }),
    partition: shard.partition,
    lag: shard.lag,
    committed_offset: shard.committed,
    ...(shard.headEventId === undefined ? {} : { head_event_id: shard.headEventId }),
    stalled_since: shard.since.toISOString(),
    stalled_for_s: Math.round(shard.stalledForMs / 100) / 10,
  };
}

/**
 * What a readiness answer says about stalled partitions. A stall is reported, never a reason
 * to answer 503: readiness only decides whether Kubernetes routes traffic to a pod and whether
 * a rollout may go on. A worker is behind no Service, so "not ready" would route nothing away;
 * every worker of the group sees the same stall (it is the partition's, not the process's), so
 * all of them would turn unready at once, and a rolling update that brings the fix would wait
 * for new pods that can never become ready. An operator needs the stall named, with the event
 * that holds it: here, in herald_partition_stalled (alerted on), and in the dashboard.
 */
export function stallReadiness(stalls: readonly StalledShard[]): {
  stalled_partitions: StalledPartitionJson[];
} {
  return { stalled_partitions: stalls.map(stalledPartitionJson) };
}
