/**
 * Readiness: whether what a process needs answers. One implementation for the API's
 * `/health/ready` and the ops server of processes without the API, so every role reports its
 * checks under the same names, the same way.
 */
import type { Broker } from '../ports/broker.ts';
import type { Database } from '../ports/database.ts';

/** Resolves (or returns) when the dependency is usable; throws or rejects when it is not. */
export type Probe = () => unknown;

export interface Readiness {
  ready: boolean;
  /** Each check's outcome: `ok`, or `unavailable: <why>`. */
  checks: Record<string, string>;
}

/** The dependencies every role needs: the database and the broker. */
export function dependencyProbes(
  db: Pick<Database, 'query'>,
  broker: Pick<Broker, 'ping'>,
): Record<string, Probe> {
  return { database: () => db.query('SELECT 1'), broker: () => broker.ping() };
}

/** Runs the probes concurrently; ready when every one of them succeeded. */
export async function checkReadiness(probes: Record<string, Probe>): Promise<Readiness> {
  const outcomes = await Promise.all(
    Object.entries(probes).map(async ([name, probe]) => [name, await outcomeOf(probe)] as const),
  );
  return {
    ready: outcomes.every(([, outcome]) => outcome === 'ok'),
    checks: Object.fromEntries(outcomes),
  };
}

async function outcomeOf(probe: Probe): Promise<string> {
  try {
    await probe();
    return 'ok';
  } catch (error) {
    return `unavailable: ${error instanceof Error ? error.message : String(error)}`;
  }
}
