/**
 * Side-by-side HTTP load comparisons on a shared machine: every system runs at once, and the
 * measurements take turns (system A, B, C, then B, C, A, …), `reps` rounds per setting, so a
 * burst of load from a neighbour hits every system alike. Each system's figure is its median
 * round. A system that keeps working after its load stops (`herald start`: its worker drains
 * what was accepted) would tax the next one's turn, so those run alone, after the others.
 */
import { type LoadOptions, type LoadResult, runLoad } from './load.ts';
import type { Context } from './report.ts';

export interface Running {
  url: string;
  stop(): Promise<void>;
  env?: object;
}

export interface Contender {
  name: string;
  /** Keeps the machine busy after its load stops: measured alone, not in the rotation. */
  background?: boolean;
  start(context: Context): Promise<Running>;
}

export interface Setting {
  /** Key of the setting in the results (e.g. connections "50", batch size "1000"). */
  key: string;
  load(url: string): Omit<LoadOptions, 'durationS' | 'amount'>;
}

export interface Compared {
  /** system → setting → its median round (by 2xx/s), with every round's 2xx/s. */
  results: Record<string, Record<string, LoadResult & { rounds_ok_per_s: number[] }>>;
  envs: Record<string, unknown>;
}

export async function compareInTurns(
  context: Context,
  contenders: readonly Contender[],
  settings: readonly Setting[],
  options: { reps: number; durationS: number; warmupS: number },
): Promise<Compared> {
  const results: Compared['results'] = {};
  const envs: Record<string, unknown> = {};
  const groups = [
    contenders.filter((c) => c.background !== true),
    ...contenders.filter((c) => c.background === true).map((c) => [c]),
  ].filter((g) => g.length > 0);
  for (const group of groups) {
    const running: { contender: Contender; system: Running }[] = [];
    try {
      for (const contender of group) {
        context.log(`${contender.name}: starting`);
        const system = await contender.start(context);
        running.push({ contender, system });
        if (system.env !== undefined) envs[contender.name] = system.env;
      }
      for (const setting of settings) {
        const rounds = new Map<string, LoadResult[]>();
        for (let rep = 0; rep < options.reps; rep++) {
          // Rotate who goes first, so no system always follows the same neighbour.
          const order = running.map((_, i) => running[(i + rep) % running.length]);
          for (const entry of order) {
            if (entry === undefined) continue;
            const load = setting.load(entry.system.url);
            if (rep === 0 && options.warmupS > 0) {
              await runLoad({ ...load, durationS: options.warmupS });
            }
            const result = await runLoad({ ...load, durationS: options.durationS });
            context.log(
              `${entry.contender.name} [${setting.key}] round ${rep + 1}: ` +
                `${Math.round(result.ok_per_s)} 2xx/s, p99 ${result.latency_ms.p99} ms`,
            );
            const mine = rounds.get(entry.contender.name) ?? [];
            mine.push(result);
            rounds.set(entry.contender.name, mine);
          }
        }
        for (const [name, list] of rounds) {
          const sorted = [...list].sort((a, b) => a.ok_per_s - b.ok_per_s);
          const median = sorted[Math.floor((sorted.length - 1) / 2)];
          if (median === undefined) continue;
          results[name] ??= {};
          (results[name] as Compared['results'][string])[setting.key] = {
            ...median,
            rounds_ok_per_s: list.map((r) => r.ok_per_s),
          };
        }
      }
    } finally {
      await Promise.all(running.map((r) => r.system.stop()));
    }
  }
  return { results, envs };
}
