/**
 * Summarises V8 CPU profiles (from `npm run bench -- --cpu-prof`): the functions with the most
 * self time, and self time per package / source folder, per profile.
 *
 *   node bench/profile.ts bench/results/profiles [--top 25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: a package, a folder of Herald's src/, node internals, V8. */
export function area(url: string): string {
  if (url === '') return '(v8/native)';
  if (url.startsWith('node:')) return 'node:internal';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg !== undefined) return pkg;
  const src = /\/src\/(.+)\/[^/]+$/.exec(url)?.[1];
  if (src !== undefined) return `src/${src}`;
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/');
}

export function summarise(profile: Profile, top: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, micros] of self) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const where =
      frame.url === ''
        ? ''
        : ` ${frame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    functions.set(key, (functions.get(key) ?? 0) + micros);
    const a = ['(idle)', '(program)', '(garbage collector)'].includes(frame.functionName)
      ? frame.functionName
      : area(frame.url);
    areas.set(a, (areas.get(a) ?? 0) + micros);
  }
  const pct = (m: number) => `${((100 * m) / total).toFixed(1)}%`.padStart(6);
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    seconds: total / 1e6,
    functions: sorted(functions)
      .slice(0, top)
      .map(([k, m]) => `${pct(m)}  ${k}`),
    areas: sorted(areas)
      .slice(0, top)
      .map(([k, m]) => `${pct(m)}  ${k}`),
  };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' } },
    allowPositionals: true,
  });
  const top = Number(values.top);
  for (const target of positionals.length > 0 ? positionals : ['bench/results/profiles']) {
    const files = statSync(target).isDirectory()
      ? readdirSync(target)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => join(target, f))
      : [target];
    for (const file of files.sort()) {
      const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, top);
      process.stdout.write(
        `\n## ${basename(file)} (${s.seconds.toFixed(1)} s sampled)\n\nself time by area:\n` +
          `${s.areas.join('\n')}\n\ntop functions by self time:\n${s.functions.join('\n')}\n`,
      );
    }
  }
}
