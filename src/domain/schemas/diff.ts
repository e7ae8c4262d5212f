/**
 * What changed between two versions of a schema, place by place (JSON Pointers), for people
 * reading a change: the diff endpoint, `herald schemas diff` and the dashboard.
 */
import { canonicalJson, isRecord, pointerStep } from './json.ts';

export interface SchemaChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  /** The value before (removed, changed). */
  from?: unknown;
  /** The value after (added, changed). */
  to?: unknown;
}

const isScalar = (v: unknown) => v === null || typeof v !== 'object';

/**
 * @example
 * diffSchemas({ required: ['id'] }, { required: ['id', 'currency'] });
 * // [{ path: '/required', change: 'added', to: 'currency' }]
 */
export function diffSchemas(before: unknown, after: unknown, path = ''): SchemaChange[] {
  if (canonicalJson(before) === canonicalJson(after)) return [];
  if (isRecord(before) && isRecord(after)) {
    const changes: SchemaChange[] = [];
    for (const [key, value] of Object.entries(before)) {
      const at = path + pointerStep(key);
      if (!Object.hasOwn(after, key)) changes.push({ path: at, change: 'removed', from: value });
      else changes.push(...diffSchemas(value, after[key], at));
    }
    for (const [key, value] of Object.entries(after)) {
      if (!Object.hasOwn(before, key)) {
        changes.push({ path: path + pointerStep(key), change: 'added', to: value });
      }
    }
    return changes;
  }
  // Lists of names or values (required, enum, type): which entries came and went.
  if (
    Array.isArray(before) &&
    Array.isArray(after) &&
    before.every(isScalar) &&
    after.every(isScalar)
  ) {
    const had = new Set(before.map((v) => canonicalJson(v)));
    const has = new Set(after.map((v) => canonicalJson(v)));
    return [
      ...before
        .filter((v) => !has.has(canonicalJson(v)))
        .map((v): SchemaChange => ({ path, change: 'removed', from: v })),
      ...after
        .filter((v) => !had.has(canonicalJson(v)))
        .map((v): SchemaChange => ({ path, change: 'added', to: v })),
    ];
  }
  return [{ path, change: 'changed', from: before, to: after }];
}
