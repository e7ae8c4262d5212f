/**
 * Screening of a schema before it is compiled or stored: size and depth bounds, only local
 * references (nothing is ever fetched), only known keywords and formats, patterns that run in
 * linear time, and `uniqueItems` only with a bound on the items. Every problem names the part
 * of the schema (a JSON Pointer) it is about.
 */
import formats from 'ajv-formats/dist/formats.js';
import { isRecord, pointerStep, resolveLocalRef } from './json.ts';
import {
  ANNOTATION_KEYWORDS,
  CHECKED_KEYWORDS,
  OPAQUE_KEYWORDS,
  REFUSED_KEYWORDS,
  SCHEMA_KEYWORDS,
  SCHEMA_LIST_KEYWORDS,
  SCHEMA_MAP_KEYWORDS,
} from './keywords.ts';
import { JSON_SCHEMA_2020_12, SCHEMA_LIMITS, type SchemaProblem } from './model.ts';
import { patternProblem } from './patterns.ts';

/** The formats validation knows (ajv-formats' full set). */
export const KNOWN_FORMATS: ReadonlySet<string> = new Set(formats.formatNames);

const MAX_PROBLEMS = 50;

/**
 * Every problem of `schema` as a contract (up to 50), or none.
 *
 * @example
 * screenSchema({ type: 'object', properties: { id: { $ref: 'https://evil.example/s.json' } } });
 * // [{ path: '/properties/id/$ref', message: 'only local references ("#/…") are allowed; …' }]
 */
export function screenSchema(
  schema: unknown,
  limits: typeof SCHEMA_LIMITS = SCHEMA_LIMITS,
): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  if (!isRecord(schema)) {
    return [{ path: '', message: 'a contract must be a JSON object (a JSON Schema)' }];
  }
  const bytes = Buffer.byteLength(JSON.stringify(schema));
  if (bytes > limits.maxBytes) {
    return [{ path: '', message: `the schema is ${bytes} bytes; at most ${limits.maxBytes}` }];
  }
  const rootType = schema.type;
  if (
    rootType !== undefined &&
    rootType !== 'object' &&
    !(Array.isArray(rootType) && rootType.includes('object'))
  ) {
    problems.push({
      path: '/type',
      message: 'a contract describes the payload object of an event: its type must allow "object"',
    });
  }
  walk(schema, '', 0);
  return problems.slice(0, MAX_PROBLEMS);

  function add(path: string, message: string) {
    if (problems.length < MAX_PROBLEMS) problems.push({ path, message });
  }

  function walk(node: unknown, path: string, depth: number): void {
    if (typeof node === 'boolean') return;
    if (!isRecord(node)) {
      add(path, 'must be a schema (a JSON object or a boolean)');
      return;
    }
    if (depth > limits.maxDepth) {
      add(path, `schemas nest at most ${limits.maxDepth} levels deep`);
      return;
    }
    for (const [keyword, value] of Object.entries(node)) {
      const at = path + pointerStep(keyword);
      const refused = REFUSED_KEYWORDS[keyword];
      if (refused !== undefined) {
        add(at, `"${keyword}" is not allowed: ${refused}`);
        continue;
      }
      if (keyword === '$schema') {
        if (path !== '' || value !== JSON_SCHEMA_2020_12) {
          add(at, `only "${JSON_SCHEMA_2020_12}" at the root is allowed`);
        }
        continue;
      }
      if (
        !ANNOTATION_KEYWORDS.has(keyword) &&
        !CHECKED_KEYWORDS.has(keyword) &&
        !OPAQUE_KEYWORDS.has(keyword)
      ) {
        add(at, `unknown keyword "${keyword}"`);
        continue;
      }
      if (keyword === '$ref') checkRef(value, at);
      else if (keyword === 'pattern') checkPattern(value, at);
      else if (keyword === 'format') checkFormat(value, at);
      else if (keyword === 'uniqueItems' && value === true) checkUniqueItems(node, at);
      else if (keyword === 'items' && Array.isArray(value)) {
        add(at, 'an array of schemas is the draft-07 form; use prefixItems');
      } else if (SCHEMA_KEYWORDS.has(keyword)) walk(value, at, depth + 1);
      else if (SCHEMA_LIST_KEYWORDS.has(keyword)) {
        if (!Array.isArray(value)) add(at, 'must be an array of schemas');
        else for (const [i, item] of value.entries()) walk(item, at + pointerStep(i), depth + 1);
      } else if (SCHEMA_MAP_KEYWORDS.has(keyword)) {
        if (!isRecord(value)) {
          add(at, 'must be an object of schemas');
          continue;
        }
        for (const [name, sub] of Object.entries(value)) {
          if (keyword === 'patternProperties') checkPattern(name, at + pointerStep(name));
          walk(sub, at + pointerStep(name), depth + 1);
        }
      }
    }
  }

  function checkRef(ref: unknown, at: string) {
    if (typeof ref !== 'string') {
      add(at, 'must be a string');
    } else if (!ref.startsWith('#')) {
      add(at, `only local references ("#/…") are allowed; "${ref}" would not be fetched`);
    } else if (resolveLocalRef(schema, ref) === undefined) {
      add(at, `"${ref}" points at nothing in this schema`);
    }
  }

  function checkPattern(pattern: unknown, at: string) {
    if (typeof pattern !== 'string') {
      add(at, 'must be a string');
      return;
    }
    if (pattern.length > limits.maxPatternLength) {
      add(at, `patterns are at most ${limits.maxPatternLength} characters`);
      return;
    }
    const problem = patternProblem(pattern);
    if (problem !== undefined) add(at, problem);
  }

  function checkFormat(format: unknown, at: string) {
    if (typeof format !== 'string' || !KNOWN_FORMATS.has(format)) {
      add(at, `unknown format ${JSON.stringify(format)}; known: ${[...KNOWN_FORMATS].join(', ')}`);
    }
  }

  function checkUniqueItems(node: Record<string, unknown>, at: string) {
    const max = node.maxItems;
    if (typeof max !== 'number' || max > limits.maxUniqueItems) {
      add(
        at,
        `uniqueItems compares every pair of items: it needs "maxItems" of at most ${limits.maxUniqueItems}`,
      );
    }
  }
}
