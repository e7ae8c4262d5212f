/**
 * Compatibility of two versions of a contract. "B accepts everything A accepts" (A ⊆ B) is
 * decided over the structural subset of JSON Schema people write contracts in — type,
 * properties, required, additionalProperties, enum/const, items, minimum/maximum (and the
 * exclusive ones), minLength/maxLength, minItems/maxItems, uniqueItems, pattern, format,
 * nested objects, $defs and local $refs (recursive ones too) — by walking both schemas side
 * by side, one JSON type at a time.
 *
 * Inclusion of arbitrary JSON Schemas is undecidable in general, so the checker is sound
 * rather than complete: it never lets an incompatible change through, and where it cannot
 * prove a change safe it says so (`kind: 'unproven'`) instead of guessing — a change to
 * allOf/anyOf/oneOf/not/if-then-else, patternProperties, multipleOf … (the opaque keywords of
 * keywords.ts) is proven only where the subschema is unchanged; two different patterns or
 * formats are not compared. Such a change is made with `compatibility: none`.
 */
import { accepts } from './accepts.ts';
import { canonicalJson, isRecord, pointerStep, resolveLocalRef } from './json.ts';
import { ANNOTATION_KEYWORDS, OPAQUE_KEYWORDS } from './keywords.ts';
import type { Compatibility } from './model.ts';

/** Why a change is refused. */
export interface Break {
  /** `incompatible`: some event is accepted by one version and refused by the other. */
  kind: 'incompatible' | 'unproven';
  /** The keyword that decides it (`required`, `type`, `maximum` … or the opaque one). */
  keyword: string;
  /** Where in the event: `amount`, `lines[].sku`, `(root)`. */
  field: string;
  /** Where in the new version's schema (a JSON Pointer), when it has that place. */
  path: string;
  message: string;
}

export interface VersionedSchema {
  version: number;
  schema: unknown;
}

/**
 * What breaks when `next` follows `previous` under `mode`; empty when the change is allowed.
 *
 * @example
 * compatibilityBreaks('backward',
 *   { version: 1, schema: { type: 'object', properties: { amount: { type: 'number' } } } },
 *   { version: 2, schema: { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] } });
 * // [{ kind: 'incompatible', keyword: 'required', field: 'amount', path: '/required', message: 'v2 requires "amount", which v1 does not: …' }]
 */
export function compatibilityBreaks(
  mode: Compatibility,
  previous: VersionedSchema,
  next: VersionedSchema,
): Break[] {
  const old = { label: `v${previous.version}`, root: previous.schema };
  const neu = { label: `v${next.version}`, root: next.schema };
  const breaks: Break[] = [];
  // backward: the new version accepts what the old one did (old ⊆ new); forward: the reverse.
  if (mode === 'backward' || mode === 'full') breaks.push(...new Inclusion(old, neu, 'b').run());
  if (mode === 'forward' || mode === 'full') breaks.push(...new Inclusion(neu, old, 'a').run());
  return breaks;
}

interface Side {
  label: string;
  root: unknown;
}

type Node = Record<string, unknown> | boolean;

const TYPE_ORDER = ['null', 'boolean', 'object', 'array', 'number', 'integer', 'string'] as const;
type JsonType = (typeof TYPE_ORDER)[number];

// Bounds the work on hostile or huge pairs; beyond it the change is unproven.
const MAX_STEPS = 20_000;
// An integer range this small is compared value by value against an enum.
const MAX_ENUMERATED_INTEGERS = 256;

interface Bound {
  value: number;
  exclusive: boolean;
}

/** Decides A ⊆ B ("B accepts everything A accepts"), collecting why not. */
class Inclusion {
  readonly #a: Side;
  readonly #b: Side;
  /** Which side is the newer version: its pointers are reported. */
  readonly #newer: 'a' | 'b';
  readonly #breaks: Break[] = [];
  readonly #assumed = new Set<string>();
  readonly #done = new Set<string>();
  #steps = 0;

  constructor(a: Side, b: Side, newer: 'a' | 'b') {
    this.#a = a;
    this.#b = b;
    this.#newer = newer;
  }

  run(): Break[] {
    this.#check(asNode(this.#a.root), asNode(this.#b.root), '', '', '');
    return this.#breaks;
  }

  #report(
    kind: Break['kind'],
    keyword: string,
    field: string,
    at: { a: string; b: string },
    message: string,
  ) {
    const path = this.#newer === 'a' ? at.a : at.b;
    const shown = field === '' ? '(root)' : field;
    this.#breaks.push({
      kind,
      keyword,
      field: shown,
      path,
      message: message.replaceAll('{field}', shown),
    });
  }

  #check(a0: Node, b0: Node, pa0: string, pb0: string, field: string): void {
    if (++this.#steps > MAX_STEPS) {
      if (this.#steps === MAX_STEPS + 1) {
        this.#report(
          'unproven',
          '(size)',
          field,
          { a: pa0, b: pb0 },
          'the schemas are too large to compare completely',
        );
      }
      return;
    }
    const { node: a, path: pa } = this.#resolve(a0, pa0, this.#a.root);
    const { node: b, path: pb } = this.#resolve(b0, pb0, this.#b.root);
    const at = { a: pa, b: pb };
    if (a === false || b === true) return;
    // Recursive schemas: a pair being compared further up is assumed to hold (coinduction).
    const pair = `${pa}\u0000${pb}`;
    if (this.#assumed.has(pair) || this.#done.has(pair)) return;
    this.#assumed.add(pair);
    try {
      this.#compare(a === true ? {} : a, b, at, field);
    } finally {
      this.#assumed.delete(pair);
      this.#done.add(pair);
    }
  }

  /** Follows a `$ref` that stands alone (annotations aside); a `$ref` with constraints beside it stays. */
  #resolve(node: Node, path: string, root: unknown): { node: Node; path: string } {
    let current = node;
    let at = path;
    for (let hops = 0; hops < 32; hops++) {
      if (!isRecord(current) || typeof current.$ref !== 'string') break;
      const siblings = Object.keys(current).filter(
        (k) => k !== '$ref' && !ANNOTATION_KEYWORDS.has(k),
      );
      if (siblings.length > 0) break;
      const ref: string = current.$ref;
      at = ref.slice(1);
      current = asNode(resolveLocalRef(root, ref));
    }
    return { node: current, path: at };
  }

  #compare(
    a: Record<string, unknown>,
    b: Record<string, unknown> | false,
    at: { a: string; b: string },
    field: string,
  ): void {
    const A = this.#a.label;
    const B = this.#b.label;
    // A does not list this property: it takes any value its additionalProperties allows.
    const unlisted = at.a.endsWith('/additionalProperties')
      ? ` (${A} does not list it, so it accepts any value there that its additionalProperties allows)`
      : '';
    if (b === false) {
      this.#report(
        'incompatible',
        'false',
        field,
        at,
        `${B} accepts no value at {field}; ${A} does`,
      );
      return;
    }
    const opaque = [...new Set([...opaqueKeywords(a), ...opaqueKeywords(b)])];
    if (opaque.length > 0) {
      if (!sameMeaning(a, this.#a.root, b, this.#b.root)) {
        this.#report(
          'unproven',
          opaque[0] ?? '(opaque)',
          field,
          at,
          `cannot prove that ${B} accepts everything ${A} accepts at {field}: ${opaque.join(', ')} changed there (the checker compares these only for equality; make this change with compatibility "none")`,
        );
      }
      return;
    }

    if (Array.isArray(a.enum) || 'const' in a) {
      this.#compareValues(finiteValues(a), a, b, at, field);
      return;
    }
    const typesA = typeSet(a);
    const typesB = typeSet(b);
    const refused: JsonType[] = [];
    for (const t of typesA) {
      if (t === 'integer' && typesA.has('number')) continue;
      if (!covers(typesB, t)) {
        if (t === 'number' && typesB.has('integer')) {
          this.#report(
            'incompatible',
            'type',
            field,
            at,
            `${B} accepts only integers at {field}; ${A} accepts any number${unlisted}`,
          );
        } else {
          refused.push(t);
        }
        continue;
      }
      if (Array.isArray(b.enum) || 'const' in b) {
        const values = finiteOfType(a, t);
        if (values === undefined) {
          const allowed = Array.isArray(b.enum) ? b.enum : [b.const];
          this.#report(
            'incompatible',
            Array.isArray(b.enum) ? 'enum' : 'const',
            field,
            at,
            `${B} accepts only ${listValues(allowed)} at {field}; ${A} accepts any ${t}`,
          );
        } else {
          this.#compareValues(values, a, b, at, field);
        }
        continue;
      }
      if (t === 'number' || t === 'integer') this.#numbers(a, b, t, at, field);
      else if (t === 'string') this.#strings(a, b, at, field);
      else if (t === 'array') this.#arrays(a, b, at, field);
      else if (t === 'object') this.#objects(a, b, at, field);
    }
    if (refused.length > 0) {
      const list = refused.map((t, i) => (i === 0 ? article(t) : t)).join(', ');
      this.#report(
        'incompatible',
        'type',
        field,
        at,
        `${B} does not accept ${list} at {field}; ${A} does${unlisted}`,
      );
    }
  }

  /** A accepts finitely many values here: each must pass B. */
  #compareValues(
    values: unknown[],
    a: Record<string, unknown>,
    b: Node,
    at: { a: string; b: string },
    field: string,
  ) {
    for (const value of values) {
      const inA = accepts(a, value, this.#a.root);
      if (inA === false) continue;
      const inB = accepts(b, value, this.#b.root);
      if (inA === undefined || inB === undefined) {
        this.#report(
          'unproven',
          'enum',
          field,
          at,
          `cannot decide whether ${this.#b.label} accepts ${JSON.stringify(value)} at {field}`,
        );
      } else if (!inB) {
        this.#report(
          'incompatible',
          isRecord(b) && (Array.isArray(b.enum) || 'const' in b)
            ? Array.isArray(b.enum)
              ? 'enum'
              : 'const'
            : 'value',
          field,
          at,
          `${this.#b.label} rejects ${JSON.stringify(value)} at {field}, which ${this.#a.label} accepts`,
        );
      }
    }
  }

  #numbers(
    a: Record<string, unknown>,
    b: Record<string, unknown>,
    t: 'number' | 'integer',
    at: { a: string; b: string },
    field: string,
  ) {
    const A = this.#a.label;
    const B = this.#b.label;
    const ka = t === 'integer' ? integerBounds(a) : { low: lowerBound(a), high: upperBound(a) };
    const lowB = lowerBound(b);
    const highB = upperBound(b);
    if (lowB !== undefined && !withinLower(ka.low, lowB)) {
      this.#report(
        'incompatible',
        lowB.exclusive ? 'exclusiveMinimum' : 'minimum',
        field,
        { ...at, b: at.b + pointerStep(lowB.exclusive ? 'exclusiveMinimum' : 'minimum') },
        `${B} requires {field} ${lowB.exclusive ? '>' : '≥'} ${lowB.value}; ${A} ${describeLow(ka.low)}`,
      );
    }
    if (highB !== undefined && !withinUpper(ka.high, highB)) {
      this.#report(
        'incompatible',
        highB.exclusive ? 'exclusiveMaximum' : 'maximum',
        field,
        { ...at, b: at.b + pointerStep(highB.exclusive ? 'exclusiveMaximum' : 'maximum') },
        `${B} requires {field} ${highB.exclusive ? '<' : '≤'} ${highB.value}; ${A} ${describeHigh(ka.high)}`,
      );
    }
    this.#format(a, b, t, at, field);
  }

  #strings(
    a: Record<string, unknown>,
    b: Record<string, unknown>,
    at: { a: string; b: string },
    field: string,
  ) {
    const A = this.#a.label;
    const B = this.#b.label;
    const minA = num(a.minLength) ?? 0;
    const minB = num(b.minLength) ?? 0;
    if (minB > minA) {
      this.#report(
        'incompatible',
        'minLength',
        field,
        { ...at, b: `${at.b}/minLength` },
        `${B} requires {field} to be at least ${minB} characters long; ${A} ${minA === 0 ? 'accepts any length' : `requires ${minA}`}`,
      );
    }
    const maxA = num(a.maxLength);
    const maxB = num(b.maxLength);
    if (maxB !== undefined && (maxA === undefined || maxA > maxB)) {
      this.#report(
        'incompatible',
        'maxLength',
        field,
        { ...at, b: `${at.b}/maxLength` },
        `${B} allows {field} at most ${maxB} characters; ${A} allows ${maxA ?? 'any number of'}`,
      );
    }
    if (typeof b.pattern === 'string' && b.pattern !== a.pattern) {
      if (typeof a.pattern === 'string') {
        this.#report(
          'unproven',
          'pattern',
          field,
          { ...at, b: `${at.b}/pattern` },
          `cannot prove that every {field} matching /${a.pattern}/ (${A}) matches /${b.pattern}/ (${B}): patterns are compared only for equality`,
        );
      } else {
        this.#report(
          'incompatible',
          'pattern',
          field,
          { ...at, b: `${at.b}/pattern` },
          `${B} requires {field} to match /${b.pattern}/; ${A} accepts any string`,
        );
      }
    }
    this.#format(a, b, 'string', at, field);
  }

  #format(
    a: Record<string, unknown>,
    b: Record<string, unknown>,
    t: JsonType,
    at: { a: string; b: string },
    field: string,
  ) {
    const format = b.format;
    if (typeof format !== 'string' || format === a.format) return;
    if (!formatAppliesTo(format, t)) return;
    const A = this.#a.label;
    const B = this.#b.label;
    if (typeof a.format === 'string' && formatAppliesTo(a.format, t)) {
      this.#report(
        'unproven',
        'format',
        field,
        { ...at, b: `${at.b}/format` },
        `cannot prove that every ${a.format} (${A}) is a valid ${format} (${B}) at {field}`,
      );
    } else {
      this.#report(
        'incompatible',
        'format',
        field,
        { ...at, b: `${at.b}/format` },
        `${B} requires {field} to be a valid ${format}; ${A} accepts any ${t}`,
      );
    }
  }

  #arrays(
    a: Record<string, unknown>,
    b: Record<string, unknown>,
    at: { a: string; b: string },
    field: string,
  ) {
    const A = this.#a.label;
    const B = this.#b.label;
    const minA = num(a.minItems) ?? 0;
    const minB = num(b.minItems) ?? 0;
    if (minB > minA) {
      this.#report(
        'incompatible',
        'minItems',
        field,
        { ...at, b: `${at.b}/minItems` },
        `${B} requires at least ${minB} items in {field}; ${A} ${minA === 0 ? 'accepts fewer' : `requires ${minA}`}`,
      );
    }
    const maxA = num(a.maxItems);
    const maxB = num(b.maxItems);
    if (maxB !== undefined && (maxA === undefined || maxA > maxB)) {
      this.#report(
        'incompatible',
        'maxItems',
        field,
        { ...at, b: `${at.b}/maxItems` },
        `${B} allows at most ${maxB} items in {field}; ${A} allows ${maxA ?? 'any number'}`,
      );
    }
    if (b.uniqueItems === true && a.uniqueItems !== true) {
      this.#report(
        'incompatible',
        'uniqueItems',
        field,
        { ...at, b: `${at.b}/uniqueItems` },
        `${B} requires the items of {field} to be unique; ${A} accepts repeated items`,
      );
    }
    if (b.items !== undefined) {
      this.#check(
        asNode(a.items ?? true),
        asNode(b.items),
        `${at.a}/items`,
        `${at.b}/items`,
        `${field}[]`,
      );
    }
  }

  #objects(
    a: Record<string, unknown>,
    b: Record<string, unknown>,
    at: { a: string; b: string },
    field: string,
  ) {
    const A = this.#a.label;
    const B = this.#b.label;
    const requiredA = new Set(strings(a.required));
    for (const name of strings(b.required)) {
      if (requiredA.has(name)) continue;
      this.#report(
        'incompatible',
        'required',
        join(field, name),
        { a: Array.isArray(a.required) ? `${at.a}/required` : at.a, b: `${at.b}/required` },
        `${B} requires "${name}", which ${A} does not: events without it would be refused`,
      );
    }
    const propsA = isRecord(a.properties) ? a.properties : {};
    const propsB = isRecord(b.properties) ? b.properties : {};
    const extraA = asNode(a.additionalProperties ?? true);
    const extraB = asNode(b.additionalProperties ?? true);
    const names = [...new Set([...Object.keys(propsA), ...Object.keys(propsB)])];
    for (const name of names) {
      const inA = Object.hasOwn(propsA, name);
      const inB = Object.hasOwn(propsB, name);
      const sa = inA ? asNode(propsA[name]) : extraA;
      const sb = inB ? asNode(propsB[name]) : extraB;
      const pa = inA ? `${at.a}/properties${pointerStep(name)}` : `${at.a}/additionalProperties`;
      const pb = inB ? `${at.b}/properties${pointerStep(name)}` : `${at.b}/additionalProperties`;
      if (sb === false && sa !== false) {
        this.#report(
          'incompatible',
          inB ? 'properties' : 'additionalProperties',
          join(field, name),
          { a: pa, b: pb },
          inB
            ? `${B} forbids "${name}", which ${A} accepts`
            : `${B} does not allow "${name}" (its additionalProperties is false), which ${A} accepts`,
        );
        continue;
      }
      this.#check(sa, sb, pa, pb, join(field, name));
    }
    if (extraB === false && extraA !== false) {
      const known = Object.keys(propsB);
      this.#report(
        'incompatible',
        'additionalProperties',
        field,
        { a: `${at.a}/additionalProperties`, b: `${at.b}/additionalProperties` },
        `${B} refuses properties of {field} other than ${known.length > 0 ? known.map((n) => `"${n}"`).join(', ') : 'none'}; ${A} accepts others`,
      );
    } else {
      this.#check(
        extraA,
        extraB,
        `${at.a}/additionalProperties`,
        `${at.b}/additionalProperties`,
        join(field, '*'),
      );
    }
  }
}

function asNode(value: unknown): Node {
  if (typeof value === 'boolean') return value;
  return isRecord(value) ? value : {};
}

function opaqueKeywords(node: Node): string[] {
  if (!isRecord(node)) return [];
  const found = Object.keys(node).filter((k) => OPAQUE_KEYWORDS.has(k));
  // A $ref with constraints beside it is a conjunction the checker does not split.
  if (
    typeof node.$ref === 'string' &&
    Object.keys(node).some((k) => k !== '$ref' && !ANNOTATION_KEYWORDS.has(k))
  ) {
    found.push('$ref');
  }
  return found;
}

/** Equal text, and every reference inside points at equal text too (recursively). */
function sameMeaning(
  a: unknown,
  rootA: unknown,
  b: unknown,
  rootB: unknown,
  seen = new Set<string>(),
): boolean {
  if (canonicalJson(a) !== canonicalJson(b)) return false;
  for (const ref of refsIn(a)) {
    if (seen.has(ref)) continue;
    seen.add(ref);
    if (
      !sameMeaning(resolveLocalRef(rootA, ref), rootA, resolveLocalRef(rootB, ref), rootB, seen)
    ) {
      return false;
    }
  }
  return true;
}

function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsIn(item, out);
  else if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') out.push(item);
      else if (key !== 'enum' && key !== 'const' && key !== 'default' && key !== 'examples')
        refsIn(item, out);
    }
  }
  return out;
}

function typeSet(node: Record<string, unknown>): Set<JsonType> {
  const declared =
    node.type === undefined ? undefined : Array.isArray(node.type) ? node.type : [node.type];
  const types = new Set<JsonType>();
  for (const t of TYPE_ORDER) {
    if (declared === undefined || declared.includes(t)) types.add(t);
  }
  if (declared === undefined) types.delete('integer');
  return types;
}

function covers(types: Set<JsonType>, t: JsonType): boolean {
  return types.has(t) || (t === 'integer' && types.has('number'));
}

/** The values an enum/const schema lists (both given: those in both). */
function finiteValues(node: Record<string, unknown>): unknown[] {
  const listed = Array.isArray(node.enum) ? node.enum : undefined;
  if ('const' in node) {
    return listed === undefined ||
      listed.some((v) => canonicalJson(v) === canonicalJson(node.const))
      ? [node.const]
      : [];
  }
  return listed ?? [];
}

/** The values of type `t` a schema without enum allows, when there are few; else undefined. */
function finiteOfType(node: Record<string, unknown>, t: JsonType): unknown[] | undefined {
  if (t === 'null') return [null];
  if (t === 'boolean') return [false, true];
  if (t === 'integer') {
    const { low, high } = integerBounds(node);
    if (low === undefined || high === undefined) return undefined;
    if (high.value - low.value >= MAX_ENUMERATED_INTEGERS) return undefined;
    const values: number[] = [];
    for (let v = low.value; v <= high.value; v++) values.push(v);
    return values;
  }
  return undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function lowerBound(node: Record<string, unknown>): Bound | undefined {
  const min = num(node.minimum);
  const exclusive = num(node.exclusiveMinimum);
  if (exclusive !== undefined && (min === undefined || exclusive >= min))
    return { value: exclusive, exclusive: true };
  return min === undefined ? undefined : { value: min, exclusive: false };
}

function upperBound(node: Record<string, unknown>): Bound | undefined {
  const max = num(node.maximum);
  const exclusive = num(node.exclusiveMaximum);
  if (exclusive !== undefined && (max === undefined || exclusive <= max))
    return { value: exclusive, exclusive: true };
  return max === undefined ? undefined : { value: max, exclusive: false };
}

/** An integer's bounds as inclusive integers (`> 1.5` is `≥ 2`). */
function integerBounds(node: Record<string, unknown>): {
  low: Bound | undefined;
  high: Bound | undefined;
} {
  const low = lowerBound(node);
  const high = upperBound(node);
  return {
    low:
      low === undefined
        ? undefined
        : {
            value: low.exclusive ? Math.floor(low.value) + 1 : Math.ceil(low.value),
            exclusive: false,
          },
    high:
      high === undefined
        ? undefined
        : {
            value: high.exclusive ? Math.ceil(high.value) - 1 : Math.floor(high.value),
            exclusive: false,
          },
  };
}

/** Whether every number above `a` is above `b`. */
function withinLower(a: Bound | undefined, b: Bound): boolean {
  if (a === undefined) return false;
  return a.value > b.value || (a.value === b.value && (!b.exclusive || a.exclusive));
}

function withinUpper(a: Bound | undefined, b: Bound): boolean {
  if (a === undefined) return false;
  return a.value < b.value || (a.value === b.value && (!b.exclusive || a.exclusive));
}

const describeLow = (bound: Bound | undefined) =>
  bound === undefined
    ? 'has no lower bound'
    : `accepts ${bound.exclusive ? '>' : '≥'} ${bound.value}`;
const describeHigh = (bound: Bound | undefined) =>
  bound === undefined
    ? 'has no upper bound'
    : `accepts ${bound.exclusive ? '<' : '≤'} ${bound.value}`;

const NUMERIC_FORMATS = new Set(['int32', 'int64', 'float', 'double']);

/** ajv-formats checks int32 … double on numbers and every other format on strings. */
function formatAppliesTo(format: string, t: JsonType): boolean {
  if (t === 'string') return !NUMERIC_FORMATS.has(format);
  return (t === 'number' || t === 'integer') && NUMERIC_FORMATS.has(format);
}

const article = (t: string) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

function listValues(values: readonly unknown[]): string {
  const shown = values.slice(0, 10).map((v) => JSON.stringify(v));
  return values.length > 10 ? `${shown.join(', ')} … (${values.length} values)` : shown.join(', ');
}

function join(field: string, name: string): string {
  return field === '' ? name : `${field}.${name}`;
}
