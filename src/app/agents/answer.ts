import Ajv from 'ajv';
import { compareReportedWeight } from '../../domain/chemistry/index.ts';
import type { ChemistryAnswer, MoleculeFacts } from '../../ports/llm.ts';
import { LlmError } from '../../ports/llm.ts';

const assessment = (value: Record<string, unknown>) =>
  ({
    type: 'object',
    additionalProperties: false,
    required: ['value', 'confidence'],
    properties: { value, confidence: { type: 'number', minimum: 0, maximum: 1 } },
  }) as const;

/**
 * The JSON Schema of an agent's answer. It keeps to the subset OpenAI's strict structured
 * outputs accept (every property required, no additional properties), so the same schema is
 * sent to the provider and checked here.
 */
export const CHEMISTRY_ANSWER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [
    'common_name',
    'compound_class',
    'physical_state',
    'hazards',
    'notable_properties',
    'molar_mass',
  ],
  properties: {
    common_name: assessment({ type: ['string', 'null'], maxLength: 200 }),
    compound_class: assessment({ type: 'string', minLength: 1, maxLength: 200 }),
    physical_state: assessment({ type: 'string', enum: ['solid', 'liquid', 'gas', 'unknown'] }),
    hazards: {
      type: 'array',
      maxItems: 20,
      items: assessment({ type: 'string', minLength: 1, maxLength: 300 }),
    },
    notable_properties: {
      type: 'array',
      maxItems: 20,
      items: assessment({ type: 'string', minLength: 1, maxLength: 300 }),
    },
    molar_mass: {
      type: 'number',
      exclusiveMinimum: 0,
      description: 'average molar mass in g/mol',
    },
  },
} as const;

const validate = new Ajv.default({ allErrors: true, strict: false }).compile(
  CHEMISTRY_ANSWER_SCHEMA,
);

/**
 * Parses an answer's text, validates it against the schema and cross-checks it with the
 * deterministic facts; throws LlmError `bad_response` (not JSON) or `rejected` (wrong shape,
 * or a molar mass outside compareReportedWeight's tolerance of the computed one).
 */
export function acceptAnswer(text: string, facts: MoleculeFacts): ChemistryAnswer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new LlmError('bad_response', `the answer is not JSON: ${text.slice(0, 200)}`);
  }
  if (!validate(parsed)) {
    const errors = (validate.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '(answer)'} ${e.message ?? 'is invalid'}`)
      .join('; ');
    throw new LlmError('rejected', `the answer does not match the schema: ${errors}`);
  }
  const answer = parsed as unknown as ChemistryAnswer;
  const check = compareReportedWeight(answer.molar_mass, facts.averageMass);
  if (!check.matches) {
    throw new LlmError(
      'rejected',
      `the answer's molar mass ${answer.molar_mass} g/mol disagrees with the computed ` +
        `${facts.averageMass} g/mol (tolerance ±${check.tolerance.toFixed(4)})`,
    );
  }
  return answer;
}
