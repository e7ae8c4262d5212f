/**
 * Durations as operators write them: `7d`, `12h`, `30m`, `45s`, `250ms`, or a number of
 * milliseconds. One parser for the settings (LOG_RETENTION, DEDUPE_WINDOW …), the API and the
 * CLI, so that `7d` means the same everywhere.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Milliseconds in `text`, or undefined when it is not a duration.
 *
 * @example
 * parseDuration('7d'); // 604800000
 * parseDuration('1500'); // 1500
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (match === null) return undefined;
  const value = Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The shortest exact form of `ms`: 604800000 → `7d`, 90000 → `90s`, 1500 → `1500ms`. */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] ?? 1;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
