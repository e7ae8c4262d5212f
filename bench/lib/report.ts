/** What a scenario returns, and how it is printed (markdown) and recorded (JSON). */
import type { Machine } from './machine.ts';

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

export interface ScenarioResult {
  /** The settings the scenario ran with (sizes, connections, each system's configuration). */
  config: Record<string, unknown>;
  /** Every figure measured, machine-readable. */
  figures: Record<string, unknown>;
  tables: Table[];
  /** The goals this scenario measures, judged on this run (printed as a last table). */
  goals?: Goal[];
  notes: string[];
}

export interface Context {
  quick: boolean;
  /** Brokers to run the end-to-end scenarios on (`--broker postgres,redis,kafka`). */
  brokers: string[];
  /** Databases Herald runs on (`--database postgres,embedded`); peers always use the server. */
  databases: string[];
  /** Where --cpu-prof profiles of Herald's processes go; undefined = not profiling. */
  cpuProfDir: string | undefined;
  log(message: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  run(context: Context): Promise<ScenarioResult>;
}

export interface RecordedResult extends Omit<ScenarioResult, 'goals'> {
  /** Each goal with its printed status (pass, miss, not measured). */
  goals?: (Goal & { status: string })[];
  scenario: string;
  title: string;
  date: string;
  quick: boolean;
  machine: Machine;
  duration_s: number;
}

export function markdownTable(table: Table): string {
  const cells = (row: (string | number)[]) => `| ${row.map(String).join(' | ')} |`;
  return [
    `**${table.title}**`,
    '',
    cells(table.columns),
    `|${table.columns.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...table.rows.map(cells),
  ].join('\n');
}

/** 12345.6 → "12,346"; small numbers keep a decimal. */
export function fmt(n: number | undefined | null): string {
  if (n === undefined || n === null || Number.isNaN(n)) return '—';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return (Math.round(n * 10) / 10).toLocaleString('en-US');
}

/** a / b as "0.52×" (how many times b a is), "—" when either is missing. */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0 || Number.isNaN(a) || Number.isNaN(b)) {
    return '—';
  }
  const r = a / b;
  return `${r >= 10 ? Math.round(r) : Number(r.toPrecision(2))}×`;
}

/** One of the goals, judged on this run's figures. */
export interface Goal {
  goal: string;
  target: string;
  measured: string;
  /** undefined when the figure was not measured in this run. */
  met: boolean | undefined;
}

export function goalStatus(met: boolean | undefined): string {
  return met === undefined ? '— (not measured)' : met ? 'pass' : 'miss';
}

/** The goals of a scenario as a table: goal, target, measured, pass/miss. */
export function goalsTable(goals: readonly Goal[], title = 'Goals (this run)'): Table {
  return {
    title,
    columns: ['goal', 'target', 'measured', 'status'],
    rows: goals.map((g) => [g.goal, g.target, g.measured, goalStatus(g.met)]),
  };
}

/** Where the latest run's tables begin and end in bench/README.md; `npm run bench` rewrites them. */
export const LATEST_RUN_BEGIN =
  '<!-- BEGIN LATEST RUN: written by `npm run bench` from bench/results/*.json; do not edit -->';
export const LATEST_RUN_END = '<!-- END LATEST RUN -->';

/** `readme` with the text between the latest-run markers replaced by `tables`. */
export function withLatestRun(readme: string, tables: string): string {
  const begin = readme.indexOf(LATEST_RUN_BEGIN);
  const end = readme.indexOf(LATEST_RUN_END);
  if (begin === -1 || end < begin) {
    throw new Error(`bench/README.md lacks the lines ${LATEST_RUN_BEGIN} and ${LATEST_RUN_END}`);
  }
  return `${readme.slice(0, begin + LATEST_RUN_BEGIN.length)}\n${tables}${readme.slice(end)}`;
}
