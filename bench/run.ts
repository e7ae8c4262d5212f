/**
 * `npm run bench`: runs the benchmark scenarios, prints a markdown table per scenario (every
 * ratio in it measured in the same run), and records bench/results/<scenario>.json plus a
 * combined bench/results/README-table.md, which it also writes into bench/README.md.
 *
 *   node bench/run.ts [--scenario a,b] [--quick] [--broker postgres,redis,kafka]
 *                     [--database postgres,embedded] [--cpu-prof] [--out dir]
 *
 * --quick runs every scenario at tiny sizes (a smoke run: the figures mean nothing).
 * --cpu-prof writes V8 CPU profiles of Herald's processes to <out>/profiles/ (summarise them
 * with `node bench/profile.ts <dir>`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine } from './lib/machine.ts';
import { ROOT } from './lib/processes.ts';
import {
  goalStatus,
  goalsTable,
  markdownTable,
  type RecordedResult,
  type Scenario,
  withLatestRun,
} from './lib/report.ts';
import { analytics } from './scenarios/analytics.ts';
import { e2e } from './scenarios/e2e.ts';
import { fuzz } from './scenarios/fuzz.ts';
import { ingestBatch } from './scenarios/ingest-batch.ts';
import { ingestContracts } from './scenarios/ingest-contracts.ts';
import { ingestSingle } from './scenarios/ingest-single.ts';
import { memory } from './scenarios/memory.ts';
import { peers } from './scenarios/peers.ts';
import { replay } from './scenarios/replay.ts';
import { retention } from './scenarios/retention.ts';
import { scaleOut } from './scenarios/scale-out.ts';
import { terminalState } from './scenarios/terminal-state.ts';

/** Every scenario, in the order a full run takes them: one line each (add yours at the end). */
export const SCENARIOS: readonly Scenario[] = [
  ingestSingle,
  ingestBatch,
  e2e,
  peers,
  memory,
  analytics,
  scaleOut,
  fuzz,
  ingestContracts,
  terminalState,
  retention,
  replay,
  // New scenarios: import above, add one line here.
];

const USAGE = `usage: node bench/run.ts [--scenario ${SCENARIOS.map((s) => s.name).join(',')}] [--quick]
                         [--broker postgres,redis,kafka] [--database postgres,embedded]
                         [--cpu-prof] [--out dir]`;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    quick: { type: 'boolean', default: false },
    broker: { type: 'string', default: 'postgres' },
    database: { type: 'string', default: 'postgres,embedded' },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const names = values.scenario?.split(',').map((s) => s.trim()) ?? SCENARIOS.map((s) => s.name);
const selected = names.map(
  (name) => SCENARIOS.find((s) => s.name === name) ?? fail(`unknown scenario "${name}"`),
);
const brokers = (values.broker ?? 'postgres').split(',').map((b) => b.trim());
for (const broker of brokers) {
  if (!['postgres', 'redis', 'kafka'].includes(broker)) fail(`unknown broker "${broker}"`);
}
const databases = (values.database ?? 'postgres,embedded').split(',').map((d) => d.trim());
for (const database of databases) {
  if (!['postgres', 'embedded'].includes(database)) fail(`unknown database "${database}"`);
}
const out = resolve(values.out ?? join(ROOT, 'bench/results'));
mkdirSync(out, { recursive: true });
const cpuProfDir = values['cpu-prof'] ? join(out, 'profiles') : undefined;
if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true });

// Children are killed on exit (processes.ts); make Ctrl-C an exit too.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

const machine = await describeMachine();
const log = (message: string) => process.stderr.write(`  ${message}\n`);
process.stderr.write(
  `bench: ${machine.cores} cores, ${machine.ram_gib} GiB, Node ${machine.node}, ` +
    `PostgreSQL ${machine.postgres ?? '?'}, Redis ${machine.redis ?? '?'}` +
    `${values.quick ? ' (quick: figures mean nothing)' : ''}\n`,
);
let failed = false;
for (const scenario of selected) {
  process.stderr.write(`\n# ${scenario.name}: ${scenario.title}\n`);
  const started = performance.now();
  try {
    const result = await scenario.run({
      quick: values.quick ?? false,
      brokers,
      databases,
      cpuProfDir,
      log,
    });
    const recorded: RecordedResult = {
      scenario: scenario.name,
      title: scenario.title,
      date: new Date().toISOString(),
      quick: values.quick ?? false,
      machine,
      duration_s: Math.round((performance.now() - started) / 100) / 10,
      ...result,
      goals: result.goals?.map((g) => ({ ...g, status: goalStatus(g.met) })),
    };
    writeFileSync(join(out, `${scenario.name}.json`), `${JSON.stringify(recorded, null, 2)}\n`);
    process.stdout.write(`\n${renderScenario(recorded)}\n`);
  } catch (error) {
    failed = true;
    process.stderr.write(`bench: ${scenario.name} failed: ${(error as Error).stack ?? error}\n`);
  }
}
const combined = renderCombined(out);
writeFileSync(join(out, 'README-table.md'), combined);
// The project's own results (not a run with --out elsewhere) are what bench/README.md shows.
if (out === resolve(ROOT, 'bench/results')) {
  const readme = join(ROOT, 'bench/README.md');
  writeFileSync(readme, withLatestRun(readFileSync(readme, 'utf8'), combined));
  // As `npm run format` would leave it (Biome aligns the tables), so that lint passes.
  spawnSync(join(ROOT, 'node_modules/.bin/biome'), ['format', '--write', readme], { cwd: ROOT });
}
process.stderr.write(`\nbench: results in ${out}\n`);
process.exit(failed ? 1 : 0);

function renderScenario(result: RecordedResult): string {
  const parts = [`### ${result.title}`, ''];
  for (const table of result.tables) parts.push(markdownTable(table), '');
  if (result.goals !== undefined && result.goals.length > 0) {
    parts.push(markdownTable(goalsTable(result.goals)), '');
  }
  for (const note of result.notes) parts.push(`- ${note}`);
  return parts.join('\n');
}

/** Every scenario recorded in `dir` (this run's and earlier ones'), in the harness's order. */
function renderCombined(dir: string): string {
  const files = new Set(readdirSync(dir));
  const parts = [
    '<!-- Generated by `npm run bench` from bench/results/*.json; each table comes from one run. -->',
    'Every ratio in a table was measured in the same run on the same machine. Absolute figures',
    'on a shared 2-core machine move from run to run; compare ratios.',
    '',
  ];
  for (const scenario of SCENARIOS) {
    if (!files.has(`${scenario.name}.json`)) continue;
    const result = JSON.parse(
      readFileSync(join(dir, `${scenario.name}.json`), 'utf8'),
    ) as RecordedResult;
    const m = result.machine;
    parts.push(
      renderScenario(result),
      '',
      `<sub>${result.date.slice(0, 16).replace('T', ' ')} UTC · ${m.cores} × ${m.cpu_model} · ` +
        `${m.ram_gib} GiB · Node ${m.node} · PostgreSQL ${m.postgres ?? '?'} · Redis ${m.redis ?? '?'} · ` +
        `load average at start ${m.load_average_at_start.join(' ')}` +
        `${result.quick ? ' · **quick run: figures mean nothing**' : ''}</sub>`,
      '',
    );
  }
  return `${parts.join('\n')}\n`;
}
