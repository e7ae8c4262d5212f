/**
 * Seed-shaped events for `produce` and `load-test`: the analytics and chemical shapes of the
 * research platform and EventFlow's generic events, with plausible users, pages and molecules.
 */

export const EVENT_KINDS = ['analytics', 'chemical', 'events', 'mixed'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface GeneratedEvent {
  /** Path under the API's base URL. */
  path: string;
  body: Record<string, unknown>;
}

const PATHS = {
  analytics: '/api/v1/events/analytics',
  chemical: '/api/v1/events/chemical',
  events: '/events',
} as const;

const PAGES = ['/dashboard', '/molecules', '/search', '/settings', '/reports', '/'];
const SOURCES = ['web', 'ios', 'android', 'api'];
const ANALYTICS_TYPES = ['page_view', 'page_view', 'page_view', 'click', 'search', 'login'];
const GENERIC_TYPES = ['purchase', 'signup', 'page_view', 'add_to_cart', 'logout'];
const PRODUCTS = ['Widget', 'Gadget', 'Sprocket', 'Flux capacitor', 'Reagent kit'];
const RESEARCHERS = ['Dr. Jane Smith', 'Dr. Ahmed Khan', 'Dr. Mei Lin', 'Dr. Olu Adeyemi'];
// Formula and molar mass as a researcher would report them.
const MOLECULES: readonly [string, string, number][] = [
  ['h2o', 'H2O', 18.015],
  ['co2', 'CO2', 44.009],
  ['nacl', 'NaCl', 58.44],
  ['c6h12o6', 'C6H12O6', 180.156],
  ['caoh2', 'Ca(OH)2', 74.093],
  ['cuso4', 'CuSO4·5H2O', 249.69],
  ['c8h10n4o2', 'C8H10N4O2', 194.19],
  ['h2so4', 'H2SO4', 98.079],
];

/** A small seeded PRNG (mulberry32), so a run can be repeated. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

export interface GeneratorOptions {
  kind: EventKind;
  /** How many distinct users (ordering keys) events spread over. */
  users?: number;
  /** Fraction (0..1) of chemical events sent with a formula no worker accepts. */
  invalidRatio?: number;
  seed?: number;
  /** Prefix of generated event ids; none = the API generates ids. */
  idPrefix?: string;
}

/** Returns a function producing the i-th event of a run. */
export function eventGenerator(options: GeneratorOptions): (i: number) => GeneratedEvent {
  const rand = random(options.seed ?? Date.now());
  const users = Math.max(1, options.users ?? 100);
  const invalidRatio = options.invalidRatio ?? 0;
  const kinds = ['analytics', 'chemical', 'events'] as const;
  return (i) => {
    let kind = options.kind === 'mixed' ? kinds[i % kinds.length] : options.kind;
    // Invalid events are chemical ones: the API takes them, the worker dead-letters them.
    const invalid = invalidRatio > 0 && rand() < invalidRatio;
    if (invalid) kind = 'chemical';
    const user = `user_${Math.floor(rand() * users)
      .toString()
      .padStart(5, '0')}`;
    const timestamp = new Date().toISOString();
    let body: Record<string, unknown>;
    switch (kind ?? 'analytics') {
      case 'analytics':
        body = {
          user_id: user,
          event_type: pick(rand, ANALYTICS_TYPES),
          timestamp,
          metadata: { page: pick(rand, PAGES), source: pick(rand, SOURCES) },
        };
        break;
      case 'chemical': {
        const [slug, formula, weight] = pick(rand, MOLECULES);
        body = {
          molecule_id: `mol_${slug}_${String(Math.floor(rand() * 50)).padStart(3, '0')}`,
          researcher: pick(rand, RESEARCHERS),
          data: invalid ? { formula: 'Xq9Zz' } : { formula, weight },
          timestamp,
        };
        break;
      }
      default:
        body = {
          event_type: pick(rand, GENERIC_TYPES),
          user_id: user,
          properties: {
            amount: Math.round(rand() * 20000) / 100,
            product: pick(rand, PRODUCTS),
          },
          timestamp,
        };
    }
    if (options.idPrefix !== undefined) body.id = `${options.idPrefix}-${i}`;
    return { path: PATHS[kind ?? 'analytics'], body };
  };
}
