/**
 * The layout of `herald --help`: columns aligned on their longest cell, whatever it is, and
 * the last column (a description) wrapped so that no line is wider than HELP_WIDTH.
 */
import type { Config, Setting } from '../config.ts';

export const HELP_WIDTH = 100;

/** Below this many characters the last column goes on lines of its own, under the row. */
const NARROWEST_DESCRIPTION = 40;

/** `text` in lines of at most `width` characters, broken at spaces (a longer word stays whole). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== '') lines.push(line);
  return lines.length === 0 ? [''] : lines;
}

/**
 * Rows of cells as aligned columns: each column as wide as its longest cell, two spaces
 * apart, the last one wrapped to fit `width` (continuation lines start under it; when the
 * others leave it too little room, it goes under the row instead). The lines of each row.
 */
export function layOut(
  rows: readonly (readonly string[])[],
  { width = HELP_WIDTH, indent = '  ' } = {},
): string[][] {
  const widths: number[] = [];
  for (const row of rows) {
    row.slice(0, -1).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  const lead = indent.length + widths.reduce((sum, w) => sum + w + 2, 0);
  const room = width - lead;
  return rows.map((row) => {
    const head =
      indent +
      row
        .slice(0, -1)
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ');
    const last = row.at(-1) ?? '';
    if (room < NARROWEST_DESCRIPTION) {
      const under = ' '.repeat(indent.length + 4);
      return [head.trimEnd(), ...wrap(last, width - under.length).map((l) => under + l)];
    }
    const [first = '', ...rest] = wrap(last, room);
    const pad = ' '.repeat(lead);
    return [`${head}  ${first}`.trimEnd(), ...rest.map((l) => pad + l)];
  });
}

/** layOut's lines, joined. */
export const columns = (
  rows: readonly (readonly string[])[],
  options?: { width?: number; indent?: string },
) => layOut(rows, options).flat().join('\n');

/** `--worker-batch-size` for WORKER_BATCH_SIZE. */
export const flagOf = (env: string) => `--${env.toLowerCase().replaceAll('_', '-')}`;

/**
 * The settings as `--flag  VARIABLE  description` under their areas' headings, `--help` last,
 * laid out as one table so that every area's columns line up with the others'.
 */
export function optionsHelp(settings: readonly Setting<keyof Config>[]): string {
  const rows = settings.map((s) => [flagOf(s.env), s.env, s.description]);
  const lines = layOut([...rows, ['--help', '', 'show this help']]);
  const out: string[] = [];
  settings.forEach((setting, i) => {
    if (setting.area !== settings[i - 1]?.area) {
      out.push(`${i === 0 ? '' : '\n'}${setting.area}:`);
    }
    out.push(...(lines[i] ?? []));
  });
  out.push('', ...(lines[settings.length] ?? []));
  return out.join('\n');
}
