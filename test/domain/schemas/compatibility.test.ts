import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Break, compatibilityBreaks } from '../../../src/domain/schemas/compatibility.ts';
import type { Compatibility } from '../../../src/domain/schemas/model.ts';

const obj = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  ...extra,
});

interface Row {
  change: string;
  mode: Compatibility;
  before: unknown;
  after: unknown;
  /** What each refusal names: keyword, field, kind and words of its message. Empty: allowed. */
  breaks: { keyword: string; field: string; kind?: Break['kind']; says: RegExp }[];
}

const amount = { amount: { type: 'number' } };

const rows: Row[] = [
  // --- object shape ---
  {
    change: 'a new optional property, open content model (v1 took any value under that name)',
    mode: 'backward',
    before: obj(amount),
    after: obj({ ...amount, note: { type: 'string' } }),
    breaks: [
      {
        keyword: 'type',
        field: 'note',
        says: /v2 does not accept a null, boolean, object, array, number at note; v1 does \(v1 does not list it/,
      },
    ],
  },
  {
    change: 'a new optional property, closed content model',
    mode: 'backward',
    before: obj(amount, { additionalProperties: false }),
    after: obj({ ...amount, note: { type: 'string' } }, { additionalProperties: false }),
    breaks: [],
  },
  {
    change: 'a new optional property, closed content model, forward',
    mode: 'forward',
    before: obj(amount, { additionalProperties: false }),
    after: obj({ ...amount, note: { type: 'string' } }, { additionalProperties: false }),
    breaks: [{ keyword: 'additionalProperties', field: 'note', says: /v1 does not allow "note"/ }],
  },
  {
    change: 'a new optional property that accepts anything, open content model',
    mode: 'full',
    before: obj(amount),
    after: obj({ ...amount, note: { description: 'free text' } }),
    breaks: [],
  },
  {
    change: 'a new required property',
    mode: 'backward',
    before: obj(amount, { additionalProperties: false }),
    after: obj(
      { ...amount, currency: { type: 'string' } },
      { required: ['currency'], additionalProperties: false },
    ),
    breaks: [
      { keyword: 'required', field: 'currency', says: /v2 requires "currency", which v1 does not/ },
    ],
  },
  {
    change: 'a required property made optional',
    mode: 'backward',
    before: obj(amount, { required: ['amount'] }),
    after: obj(amount),
    breaks: [],
  },
  {
    change: 'a required property made optional, forward',
    mode: 'forward',
    before: obj(amount, { required: ['amount'] }),
    after: obj(amount),
    breaks: [
      { keyword: 'required', field: 'amount', says: /v1 requires "amount", which v2 does not/ },
    ],
  },
  {
    change: 'a removed property that was required, forward (old readers need it)',
    mode: 'forward',
    before: obj({ ...amount, sku: { type: 'string' } }, { required: ['sku'] }),
    after: obj(amount),
    breaks: [
      { keyword: 'required', field: 'sku', says: /v1 requires "sku"/ },
      { keyword: 'type', field: 'sku', says: /v1 does not accept a null, boolean/ },
    ],
  },
  {
    change: 'a removed property that was required, backward, with additionalProperties false',
    mode: 'backward',
    before: obj(
      { ...amount, sku: { type: 'string' } },
      { required: ['sku'], additionalProperties: false },
    ),
    after: obj(amount, { additionalProperties: false }),
    breaks: [{ keyword: 'additionalProperties', field: 'sku', says: /v2 does not allow "sku"/ }],
  },
  {
    change: 'a removed optional property (extra properties allowed)',
    mode: 'backward',
    before: obj({ ...amount, note: { type: 'string' } }),
    after: obj(amount),
    breaks: [],
  },
  {
    change: 'a removed optional property, forward: old readers would see any type there',
    mode: 'forward',
    before: obj({ ...amount, note: { type: 'string' } }),
    after: obj(amount),
    breaks: [
      {
        keyword: 'type',
        field: 'note',
        says: /v1 does not accept a null, boolean, object, array, number at note; v2 does/,
      },
    ],
  },
  {
    change: 'additionalProperties false added',
    mode: 'backward',
    before: obj(amount),
    after: obj(amount, { additionalProperties: false }),
    breaks: [
      {
        keyword: 'additionalProperties',
        field: '(root)',
        says: /refuses properties of \(root\) other than "amount"/,
      },
    ],
  },
  {
    change: 'additionalProperties false lifted',
    mode: 'backward',
    before: obj(amount, { additionalProperties: false }),
    after: obj(amount),
    breaks: [],
  },
  {
    change: 'a property forbidden with false',
    mode: 'backward',
    before: obj({ legacy: { type: 'string' } }),
    after: obj({ legacy: false }),
    breaks: [{ keyword: 'properties', field: 'legacy', says: /v2 forbids "legacy"/ }],
  },
  // --- types ---
  {
    change: 'a narrowed type (number → integer)',
    mode: 'backward',
    before: obj(amount),
    after: obj({ amount: { type: 'integer' } }),
    breaks: [
      {
        keyword: 'type',
        field: 'amount',
        says: /v2 accepts only integers at amount; v1 accepts any number/,
      },
    ],
  },
  {
    change: 'a widened type (integer → number)',
    mode: 'backward',
    before: obj({ amount: { type: 'integer' } }),
    after: obj(amount),
    breaks: [],
  },
  {
    change: 'a widened type, forward',
    mode: 'forward',
    before: obj({ amount: { type: 'integer' } }),
    after: obj(amount),
    breaks: [{ keyword: 'type', field: 'amount', says: /v1 accepts only integers/ }],
  },
  {
    change: 'a type removed from a union',
    mode: 'backward',
    before: obj({ id: { type: ['string', 'integer'] } }),
    after: obj({ id: { type: 'string' } }),
    breaks: [
      { keyword: 'type', field: 'id', says: /v2 does not accept an integer at id; v1 does/ },
    ],
  },
  {
    change: 'a type given to an untyped property',
    mode: 'backward',
    before: obj({ tag: {} }),
    after: obj({ tag: { type: 'string' } }),
    breaks: [
      {
        keyword: 'type',
        field: 'tag',
        says: /v2 does not accept a null, boolean, object, array, number at tag; v1 does$/,
      },
    ],
  },
  // --- enum / const ---
  {
    change: 'an added enum restriction',
    mode: 'backward',
    before: obj({ currency: { type: 'string' } }),
    after: obj({ currency: { type: 'string', enum: ['EUR', 'USD'] } }),
    breaks: [
      {
        keyword: 'enum',
        field: 'currency',
        says: /v2 accepts only "EUR", "USD" at currency; v1 accepts any string/,
      },
    ],
  },
  {
    change: 'an enum value removed',
    mode: 'backward',
    before: obj({ currency: { enum: ['EUR', 'USD', 'GBP'] } }),
    after: obj({ currency: { enum: ['EUR', 'USD'] } }),
    breaks: [
      {
        keyword: 'enum',
        field: 'currency',
        says: /v2 rejects "GBP" at currency, which v1 accepts/,
      },
    ],
  },
  {
    change: 'an enum value added',
    mode: 'backward',
    before: obj({ currency: { enum: ['EUR'] } }),
    after: obj({ currency: { enum: ['EUR', 'USD'] } }),
    breaks: [],
  },
  {
    change: 'an enum value added, forward',
    mode: 'forward',
    before: obj({ currency: { enum: ['EUR'] } }),
    after: obj({ currency: { enum: ['EUR', 'USD'] } }),
    breaks: [{ keyword: 'enum', field: 'currency', says: /v1 rejects "USD"/ }],
  },
  {
    change: 'an enum lifted to its type',
    mode: 'backward',
    before: obj({ currency: { enum: ['EUR', 'USD'] } }),
    after: obj({ currency: { type: 'string', maxLength: 3 } }),
    breaks: [],
  },
  {
    change: 'an enum replaced by a type its values do not all have',
    mode: 'backward',
    before: obj({ code: { enum: ['a', 1] } }),
    after: obj({ code: { type: 'string' } }),
    breaks: [{ keyword: 'value', field: 'code', says: /v2 rejects 1 at code/ }],
  },
  {
    change: 'a const changed',
    mode: 'backward',
    before: obj({ kind: { const: 'order' } }),
    after: obj({ kind: { const: 'purchase' } }),
    breaks: [{ keyword: 'const', field: 'kind', says: /v2 rejects "order"/ }],
  },
  {
    change: 'a boolean property restricted to true',
    mode: 'backward',
    before: obj({ paid: { type: 'boolean' } }),
    after: obj({ paid: { const: true } }),
    breaks: [{ keyword: 'const', field: 'paid', says: /v2 rejects false at paid/ }],
  },
  {
    change: 'a small integer range turned into the enum of its values',
    mode: 'full',
    before: obj({ stars: { type: 'integer', minimum: 1, maximum: 3 } }),
    after: obj({ stars: { enum: [1, 2, 3] } }),
    breaks: [],
  },
  // --- numbers ---
  {
    change: 'a tightened minimum',
    mode: 'backward',
    before: obj({ amount: { type: 'number', minimum: 0 } }),
    after: obj({ amount: { type: 'number', minimum: 1 } }),
    breaks: [
      { keyword: 'minimum', field: 'amount', says: /v2 requires amount ≥ 1; v1 accepts ≥ 0/ },
    ],
  },
  {
    change: 'a new maximum',
    mode: 'backward',
    before: obj(amount),
    after: obj({ amount: { type: 'number', maximum: 1000 } }),
    breaks: [
      {
        keyword: 'maximum',
        field: 'amount',
        says: /v2 requires amount ≤ 1000; v1 has no upper bound/,
      },
    ],
  },
  {
    change: 'minimum 0 made exclusive',
    mode: 'backward',
    before: obj({ amount: { type: 'number', minimum: 0 } }),
    after: obj({ amount: { type: 'number', exclusiveMinimum: 0 } }),
    breaks: [
      {
        keyword: 'exclusiveMinimum',
        field: 'amount',
        says: /v2 requires amount > 0; v1 accepts ≥ 0/,
      },
    ],
  },
  {
    change: 'an exclusive minimum made inclusive (looser)',
    mode: 'backward',
    before: obj({ amount: { type: 'number', exclusiveMinimum: 0 } }),
    after: obj({ amount: { type: 'number', minimum: 0 } }),
    breaks: [],
  },
  {
    change: 'integer > 0 rewritten as integer ≥ 1 (the same integers)',
    mode: 'full',
    before: obj({ count: { type: 'integer', exclusiveMinimum: 0 } }),
    after: obj({ count: { type: 'integer', minimum: 1 } }),
    breaks: [],
  },
  {
    change: 'a loosened maximum',
    mode: 'backward',
    before: obj({ amount: { type: 'number', maximum: 10 } }),
    after: obj({ amount: { type: 'number', maximum: 100 } }),
    breaks: [],
  },
  // --- strings ---
  {
    change: 'a tightened maxLength',
    mode: 'backward',
    before: obj({ name: { type: 'string', maxLength: 100 } }),
    after: obj({ name: { type: 'string', maxLength: 50 } }),
    breaks: [
      {
        keyword: 'maxLength',
        field: 'name',
        says: /v2 allows name at most 50 characters; v1 allows 100/,
      },
    ],
  },
  {
    change: 'a new minLength',
    mode: 'backward',
    before: obj({ name: { type: 'string' } }),
    after: obj({ name: { type: 'string', minLength: 1 } }),
    breaks: [
      {
        keyword: 'minLength',
        field: 'name',
        says: /at least 1 characters long; v1 accepts any length/,
      },
    ],
  },
  {
    change: 'a new pattern',
    mode: 'backward',
    before: obj({ currency: { type: 'string' } }),
    after: obj({ currency: { type: 'string', pattern: '^[A-Z]{3}$' } }),
    breaks: [
      {
        keyword: 'pattern',
        field: 'currency',
        kind: 'incompatible',
        says: /match \/\^\[A-Z\]\{3\}\$\/; v1 accepts any string/,
      },
    ],
  },
  {
    change: 'a changed pattern (regular-language inclusion is not attempted)',
    mode: 'backward',
    before: obj({ currency: { type: 'string', pattern: '^[A-Z]{3}$' } }),
    after: obj({ currency: { type: 'string', pattern: '^[A-Z]{2,3}$' } }),
    breaks: [{ keyword: 'pattern', field: 'currency', kind: 'unproven', says: /cannot prove/ }],
  },
  {
    change: 'a pattern removed',
    mode: 'backward',
    before: obj({ currency: { type: 'string', pattern: '^[A-Z]{3}$' } }),
    after: obj({ currency: { type: 'string' } }),
    breaks: [],
  },
  {
    change: 'a new format',
    mode: 'backward',
    before: obj({ email: { type: 'string' } }),
    after: obj({ email: { type: 'string', format: 'email' } }),
    breaks: [{ keyword: 'format', field: 'email', says: /v2 requires email to be a valid email/ }],
  },
  {
    change: 'a format on a number property only applies to strings',
    mode: 'backward',
    before: obj({ n: { type: 'number' } }),
    after: obj({ n: { type: 'number', format: 'email' } }),
    breaks: [],
  },
  // --- arrays ---
  {
    change: 'a narrowed item type',
    mode: 'backward',
    before: obj({ tags: { type: 'array', items: { type: ['string', 'number'] } } }),
    after: obj({ tags: { type: 'array', items: { type: 'string' } } }),
    breaks: [{ keyword: 'type', field: 'tags[]', says: /v2 does not accept a number at tags\[\]/ }],
  },
  {
    change: 'a tightened maxItems',
    mode: 'backward',
    before: obj({ tags: { type: 'array', maxItems: 10 } }),
    after: obj({ tags: { type: 'array', maxItems: 5 } }),
    breaks: [{ keyword: 'maxItems', field: 'tags', says: /at most 5 items in tags; v1 allows 10/ }],
  },
  {
    change: 'uniqueItems added',
    mode: 'backward',
    before: obj({ tags: { type: 'array', maxItems: 5 } }),
    after: obj({ tags: { type: 'array', maxItems: 5, uniqueItems: true } }),
    breaks: [{ keyword: 'uniqueItems', field: 'tags', says: /unique/ }],
  },
  {
    change: 'a new required property of the objects in an array',
    mode: 'backward',
    before: obj({ lines: { type: 'array', items: obj({ sku: { type: 'string' } }) } }),
    after: obj({
      lines: { type: 'array', items: obj({ sku: { type: 'string' } }, { required: ['sku'] }) },
    }),
    breaks: [{ keyword: 'required', field: 'lines[].sku', says: /v2 requires "sku"/ }],
  },
  // --- nesting, $defs, $ref ---
  {
    change: 'a narrowed type in a nested object',
    mode: 'backward',
    before: obj({ shipping: obj({ zip: { type: ['string', 'integer'] } }) }),
    after: obj({ shipping: obj({ zip: { type: 'string' } }) }),
    breaks: [{ keyword: 'type', field: 'shipping.zip', says: /at shipping\.zip/ }],
  },
  {
    change: 'a change inside a $defs entry reached by $ref',
    mode: 'backward',
    before: {
      ...obj({ price: { $ref: '#/$defs/money' } }),
      $defs: { money: obj({ value: { type: 'number' } }) },
    },
    after: {
      ...obj({ price: { $ref: '#/$defs/money' } }),
      $defs: { money: obj({ value: { type: 'number' } }, { required: ['currency'] }) },
    },
    breaks: [{ keyword: 'required', field: 'price.currency', says: /v2 requires "currency"/ }],
  },
  {
    change: 'a property inlined where it was a $ref to the same schema',
    mode: 'full',
    before: {
      ...obj({ price: { $ref: '#/$defs/money' } }),
      $defs: { money: { type: 'number', minimum: 0 } },
    },
    after: obj({ price: { type: 'number', minimum: 0 } }),
    breaks: [],
  },
  {
    change: 'a recursive tree whose node gains a required property',
    mode: 'backward',
    before: {
      ...obj({ root: { $ref: '#/$defs/node' } }),
      $defs: { node: obj({ children: { type: 'array', items: { $ref: '#/$defs/node' } } }) },
    },
    after: {
      ...obj({ root: { $ref: '#/$defs/node' } }),
      $defs: {
        node: obj(
          { children: { type: 'array', items: { $ref: '#/$defs/node' } } },
          { required: ['id'] },
        ),
      },
    },
    breaks: [{ keyword: 'required', field: 'root.id', says: /v2 requires "id"/ }],
  },
  {
    change: 'an unchanged recursive tree, retitled',
    mode: 'full',
    before: {
      ...obj({ root: { $ref: '#/$defs/node' } }),
      $defs: { node: obj({ children: { type: 'array', items: { $ref: '#/$defs/node' } } }) },
    },
    after: {
      ...obj({ root: { $ref: '#/$defs/node' } }, { title: 'A tree' }),
      $defs: { node: obj({ children: { type: 'array', items: { $ref: '#/$defs/node' } } }) },
    },
    breaks: [],
  },
  // --- beyond the structural subset ---
  {
    change: 'an unchanged anyOf beside a compatible change',
    mode: 'backward',
    before: obj(
      { id: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
      { additionalProperties: false },
    ),
    after: obj(
      { id: { anyOf: [{ type: 'string' }, { type: 'integer' }] }, note: { type: 'string' } },
      { additionalProperties: false },
    ),
    breaks: [],
  },
  {
    change: 'a changed anyOf (not decided: needs compatibility none)',
    mode: 'backward',
    before: obj({ id: { anyOf: [{ type: 'string' }, { type: 'integer' }] } }),
    after: obj({ id: { anyOf: [{ type: 'string' }] } }),
    breaks: [
      {
        keyword: 'anyOf',
        field: 'id',
        kind: 'unproven',
        says: /cannot prove .*anyOf changed there.*compatibility "none"/,
      },
    ],
  },
  {
    change: 'an unchanged oneOf whose $ref target changed',
    mode: 'backward',
    before: {
      ...obj({ id: { oneOf: [{ $ref: '#/$defs/a' }] } }),
      $defs: { a: { type: 'string' } },
    },
    after: {
      ...obj({ id: { oneOf: [{ $ref: '#/$defs/a' }] } }),
      $defs: { a: { type: 'integer' } },
    },
    breaks: [{ keyword: 'oneOf', field: 'id', kind: 'unproven', says: /cannot prove/ }],
  },
  {
    change: 'multipleOf added',
    mode: 'backward',
    before: obj({ qty: { type: 'integer' } }),
    after: obj({ qty: { type: 'integer', multipleOf: 2 } }),
    breaks: [{ keyword: 'multipleOf', field: 'qty', kind: 'unproven', says: /multipleOf changed/ }],
  },
  // --- anything goes ---
  {
    change: 'a breaking change under compatibility none',
    mode: 'none',
    before: obj(amount),
    after: obj({ amount: { type: 'string' } }, { required: ['amount'] }),
    breaks: [],
  },
  {
    change: 'both directions checked under full',
    mode: 'full',
    before: obj({ currency: { enum: ['EUR', 'USD'] } }),
    after: obj({ currency: { enum: ['EUR', 'GBP'] } }),
    breaks: [
      { keyword: 'enum', field: 'currency', says: /v2 rejects "USD"/ },
      { keyword: 'enum', field: 'currency', says: /v1 rejects "GBP"/ },
    ],
  },
];

describe('compatibility rules: what each refused change names', () => {
  for (const row of rows) {
    test(`${row.mode}: ${row.change} → ${row.breaks.length === 0 ? 'allowed' : row.breaks.map((b) => b.keyword).join(', ')}`, () => {
      const breaks = compatibilityBreaks(
        row.mode,
        { version: 1, schema: row.before },
        { version: 2, schema: row.after },
      );
      assert.equal(
        breaks.length,
        row.breaks.length,
        `expected ${row.breaks.length} break(s), got ${JSON.stringify(breaks, null, 2)}`,
      );
      for (const [i, expected] of row.breaks.entries()) {
        const got = breaks[i];
        assert.ok(got, `break ${i}`);
        assert.equal(got.keyword, expected.keyword, JSON.stringify(got));
        assert.equal(got.field, expected.field, JSON.stringify(got));
        assert.equal(got.kind, expected.kind ?? 'incompatible', JSON.stringify(got));
        assert.match(got.message, expected.says);
      }
    });
  }
});

test('a refusal points at the place in the new version that causes it', () => {
  const [tightened] = compatibilityBreaks(
    'backward',
    { version: 3, schema: obj({ amount: { type: 'number', minimum: 0 } }) },
    { version: 4, schema: obj({ amount: { type: 'number', minimum: 5 } }) },
  );
  assert.equal(tightened?.path, '/properties/amount/minimum');
  const [required] = compatibilityBreaks(
    'forward',
    { version: 3, schema: obj(amount, { required: ['amount'] }) },
    { version: 4, schema: obj(amount) },
  );
  assert.equal(required?.path, '', 'forward: the object in v4 that no longer requires it');
  assert.match(required?.message ?? '', /v3 requires "amount", which v4 does not/);
});

test('a hostile pair of huge schemas is cut short as unproven, not compared for ever', () => {
  const wide = (type: string) =>
    obj(Object.fromEntries(Array.from({ length: 30_000 }, (_, i) => [`p${i}`, { type }])));
  const breaks = compatibilityBreaks(
    'backward',
    { version: 1, schema: wide('number') },
    { version: 2, schema: wide('number') },
  );
  assert.deepEqual(
    breaks.map((b) => [b.kind, b.keyword]),
    [['unproven', '(size)']],
  );
});
