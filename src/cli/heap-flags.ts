/**
 * V8 heap sizing of the server processes (`herald start`, `api`, `worker`), applied by
 * bin/herald.js, which re-executes Node with these flags (same pid) before anything loads.
 *
 * Why (issue #9: under 300 MB of RSS per process under load): on a host with plenty of memory
 * and no container limit, V8 sizes the heap for throughput alone. It grows the young generation
 * to 2 × 64 MB, and lets the old generation grow to up to 4× what survived the last full GC,
 * plus the young generation's capacity, before collecting again. Under batch load `herald api`
 * reached ~350 MiB of RSS with ~35 MB live (bench memory scenario), most of it garbage waiting
 * for a collection. With these two flags it peaks at ~200 MiB and `herald worker` at ~155 MiB
 * (from ~235), at the same throughput (alternating runs of the memory scenario's load).
 *
 * - `--max-semi-space-size=16`: a young generation of 2 × 16 MB. Scavenges cost what survives,
 *   not the space's size; 16 MB was Node's default on 64-bit hosts for years.
 * - `--heap-growing-percent=100`: a full GC once the old generation has doubled since the
 *   last one, rather than quadrupled: more frequent (mostly concurrent) marking, less garbage
 *   kept.
 *
 * Neither caps the heap, so neither can cause an out-of-memory crash. An operator's own value
 * (a node flag or NODE_OPTIONS) wins.
 */
export const HEAP_FLAGS: readonly { flag: string; overriddenBy: readonly string[] }[] = [
  {
    flag: '--max-semi-space-size=16',
    // --max-heap-size sizes the young generation too (and V8 refuses all three together).
    overriddenBy: ['--max-semi-space-size', '--min-semi-space-size', '--max-heap-size'],
  },
  { flag: '--heap-growing-percent=100', overriddenBy: ['--heap-growing-percent'] },
];

/** The commands that run the platform (and stay up); the others exit soon. */
const SERVER_COMMANDS = new Set(['start', 'api', 'worker']);

/**
 * The flags to start Node with for `herald <argv>`, given the flags this Node runs with
 * (`process.execArgv`) and NODE_OPTIONS: none for a client command, none already given.
 */
export function heapFlagsToAdd(
  command: string | undefined,
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string[] {
  if (command === undefined || !SERVER_COMMANDS.has(command)) return [];
  const given = new Set(
    [...execArgv, ...(nodeOptions ?? '').split(/\s+/)]
      .filter((arg) => arg.startsWith('--'))
      // V8 accepts `--max_semi_space_size` as well as `--max-semi-space-size`.
      .map((arg) => arg.split('=')[0]?.replaceAll('_', '-') ?? arg),
  );
  return HEAP_FLAGS.filter((f) => !f.overriddenBy.some((name) => given.has(name))).map(
    (f) => f.flag,
  );
}
