/**
 * A small evaluator of the checked subset of JSON Schema (see keywords.ts), for the
 * compatibility checker: whether a schema accepts one given value. It answers undefined when
 * the schema uses a keyword beyond that subset, so the checker never guesses.
 */
import formats from 'ajv-formats/dist/formats.js';
import { isRecord, jsonEqual, resolveLocalRef } from './json.ts';
import { OPAQUE_KEYWORDS } from './keywords.ts';
import { compilePattern } from './patterns.ts';

type Verdict = boolean | undefined;

const MAX_REF_DEPTH = 64;

/** The JSON type names a value has (an integer is also a number). */
export function jsonTypes(value: unknown): string[] {
  if (value === null) return ['null'];
  if (Array.isArray(value)) return ['array'];
  if (typeof value === 'number')
    return Number.isInteger(value) ? ['integer', 'number'] : ['number'];
  return [typeof value];
}

/** Length in Unicode code points, as `minLength`/`maxLength` count it. */
export const codePoints = (text: string): number => {
  let n = 0;
  for (const _ of text) n++;
  return n;
};

type FormatDefinition =
  | RegExp
  | ((value: string) => boolean)
  | boolean
  | { type?: string; validate: RegExp | ((value: never) => boolean) };

/** Whether `value` passes `format` as validation checks it (ajv-formats, full mode). */
export function formatAccepts(format: string, value: unknown): Verdict {
  const definition = (formats.fullFormats as Record<string, FormatDefinition | undefined>)[format];
  if (definition === undefined) return undefined;
  if (typeof definition === 'boolean') return true;
  const appliesTo =
    definition instanceof RegExp || typeof definition === 'function'
      ? 'string'
      : (definition.type ?? 'string');
  if (typeof value !== appliesTo) return true;
  const validate =
    definition instanceof RegExp || typeof definition === 'function'
      ? definition
      : definition.validate;
  return validate instanceof RegExp
    ? validate.test(value as string)
    : (validate as (v: unknown) => boolean)(value);
}

/**
 * Whether `schema` (a node of the document `root`) accepts `value`; undefined when that
 * depends on a keyword outside the checked subset.
 */
export function accepts(schema: unknown, value: unknown, root: unknown, depth = 0): Verdict {
  if (schema === true) return true;
  if (schema === false) return false;
  if (!isRecord(schema) || depth > MAX_REF_DEPTH) return undefined;
  let verdict: Verdict = true;
  const and = (next: Verdict) => {
    if (next === false) verdict = false;
    else if (next === undefined && verdict === true) verdict = undefined;
  };
  for (const keyword of Object.keys(schema)) {
    if (OPAQUE_KEYWORDS.has(keyword)) and(undefined);
  }
  const s = schema as Record<string, unknown>;
  if (typeof s.$ref === 'string')
    and(accepts(resolveLocalRef(root, s.$ref), value, root, depth + 1));
  if (s.type !== undefined) {
    const allowed = Array.isArray(s.type) ? s.type : [s.type];
    and(jsonTypes(value).some((t) => allowed.includes(t)));
  }
  if (Array.isArray(s.enum)) and(s.enum.some((v) => jsonEqual(v, value)));
  if ('const' in s) and(jsonEqual(s.const, value));
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number') and(value >= s.minimum);
    if (typeof s.maximum === 'number') and(value <= s.maximum);
    if (typeof s.exclusiveMinimum === 'number') and(value > s.exclusiveMinimum);
    if (typeof s.exclusiveMaximum === 'number') and(value < s.exclusiveMaximum);
  }
  if (typeof value === 'string') {
    const length = codePoints(value);
    if (typeof s.minLength === 'number') and(length >= s.minLength);
    if (typeof s.maxLength === 'number') and(length <= s.maxLength);
    if (typeof s.pattern === 'string') {
      try {
        and(compilePattern(s.pattern).test(value));
      } catch {
        and(undefined);
      }
    }
  }
  if (typeof s.format === 'string') and(formatAccepts(s.format, value));
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number') and(value.length >= s.minItems);
    if (typeof s.maxItems === 'number') and(value.length <= s.maxItems);
    if (s.uniqueItems === true) {
      and(value.every((item, i) => value.findIndex((other) => jsonEqual(other, item)) === i));
    }
    if (s.items !== undefined) {
      for (const item of value) {
        and(accepts(s.items, item, root, depth + 1));
        if ((verdict as Verdict) === false) break;
      }
    }
  }
  if (isRecord(value)) {
    const properties = isRecord(s.properties) ? s.properties : {};
    if (Array.isArray(s.required)) {
      and(s.required.every((name) => typeof name === 'string' && Object.hasOwn(value, name)));
    }
    for (const [name, item] of Object.entries(value)) {
      const sub = Object.hasOwn(properties, name) ? properties[name] : s.additionalProperties;
      if (sub !== undefined) and(accepts(sub, item, root, depth + 1));
      if ((verdict as Verdict) === false) break;
    }
  }
  return verdict as Verdict;
}
