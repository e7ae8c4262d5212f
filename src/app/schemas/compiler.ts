/**
 * Compiles contracts into validators: Ajv for draft 2020-12 with ajv-formats, strict about
 * keywords, every pattern run by RE2 (domain/schemas/patterns.ts). Loaded only by processes
 * that have contracts to check (a worker without any never loads Ajv's formats).
 */
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { SchemaProblem } from '../../domain/schemas/model.ts';
import { compilePattern } from '../../domain/schemas/patterns.ts';

export type ContractValidator = ValidateFunction;

const re2Engine = Object.assign((pattern: string) => compilePattern(pattern), {
  code: 'compilePattern',
});

export interface ContractCompiler {
  /** Problems of a schema (screened already) as the meta-schema and the compiler see them. */
  problems(schema: Record<string, unknown>): SchemaProblem[];
  compile(schema: Record<string, unknown>): ContractValidator;
}

export function contractCompiler(): ContractCompiler {
  const ajv = new Ajv2020.default({
    allErrors: true,
    strict: true,
    // Contracts are written for people: `properties` without `type: "object"` is fine.
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allowUnionTypes: true,
    // Remote schemas are never loaded: no loadSchema, and nothing is added by $id.
    addUsedSchema: false,
    code: { regExp: re2Engine },
  });
  addFormats.default(ajv);
  return {
    problems(schema) {
      if (!ajv.validateSchema(schema)) return metaSchemaProblems(ajv.errors ?? []);
      try {
        ajv.compile(schema);
        return [];
      } catch (error) {
        return [{ path: '', message: error instanceof Error ? error.message : String(error) }];
      }
    },
    compile: (schema) => ajv.compile(schema),
  };
}

/** The meta-schema's complaints, one per place (the most specific first). */
function metaSchemaProblems(errors: readonly ErrorObject[]): SchemaProblem[] {
  const byPath = new Map<string, string>();
  for (const error of errors) {
    // $dynamicRef failures of the meta-schema repeat the real one; keep the first per place.
    if (!byPath.has(error.instancePath)) {
      byPath.set(error.instancePath, error.message ?? 'is invalid');
    }
  }
  return [...byPath].map(([path, message]) => ({ path, message }));
}
