/**
 * The JSON Schema keywords a contract may use, by what the registry does with them. Anything
 * else is refused when the schema is registered, so that no keyword Herald does not know (or
 * a remote reference, a `$dynamicRef`, an `$id` moving the base URI) can change what a
 * schema means behind the compatibility checker's back.
 */

/** Annotations: no effect on validation. */
export const ANNOTATION_KEYWORDS = new Set([
  'title',
  'description',
  '$comment',
  'examples',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
]);

/** The structural subset the compatibility checker decides exactly. */
export const CHECKED_KEYWORDS = new Set([
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  '$ref',
  '$defs',
]);

/**
 * Validated, but beyond what the checker decides: a change is proven compatible only where the
 * subschema holding them is unchanged; any other change to them needs `compatibility: none`.
 */
export const OPAQUE_KEYWORDS = new Set([
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
  'patternProperties',
  'propertyNames',
  'dependentRequired',
  'dependentSchemas',
  'prefixItems',
  'contains',
  'minContains',
  'maxContains',
  'minProperties',
  'maxProperties',
  'multipleOf',
  'unevaluatedProperties',
  'unevaluatedItems',
]);

/** Keywords whose value is one subschema. */
export const SCHEMA_KEYWORDS = new Set([
  'additionalProperties',
  'items',
  'not',
  'if',
  'then',
  'else',
  'propertyNames',
  'contains',
  'unevaluatedProperties',
  'unevaluatedItems',
]);

/** Keywords whose value maps names to subschemas. */
export const SCHEMA_MAP_KEYWORDS = new Set([
  'properties',
  '$defs',
  'patternProperties',
  'dependentSchemas',
]);

/** Keywords whose value is a list of subschemas. */
export const SCHEMA_LIST_KEYWORDS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);

/** Refused keywords whose refusal deserves its own explanation. */
export const REFUSED_KEYWORDS: Record<string, string> = {
  $id: 'changes the base URI of references; a contract is one self-contained document',
  $anchor: 'use a JSON Pointer reference into $defs ("#/$defs/name") instead',
  $dynamicRef: 'dynamic references are not supported in contracts',
  $dynamicAnchor: 'dynamic references are not supported in contracts',
  $recursiveRef: 'draft 2019-09 recursion is not supported; use "$ref": "#/$defs/…"',
  $recursiveAnchor: 'draft 2019-09 recursion is not supported; use "$ref": "#/$defs/…"',
  $vocabulary: 'a contract cannot declare vocabularies',
  definitions: 'draft-07 spelling; draft 2020-12 calls it $defs',
  dependencies: 'draft-07 keyword; use dependentRequired or dependentSchemas',
  additionalItems: 'draft-07 keyword; use items after prefixItems',
};
