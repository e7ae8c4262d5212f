import type {
  AgentAnswer,
  ChatMessage,
  ChemistryAgent,
  LlmClient,
  MoleculeFacts,
} from '../../ports/llm.ts';
import { acceptAnswer, CHEMISTRY_ANSWER_SCHEMA } from './answer.ts';

const SYSTEM_PROMPT = [
  'You are a careful chemist. Describe the compound given by the facts below.',
  'Answer with JSON only, following the schema: common name (null when it has none you know),',
  'compound class, physical state at STP (0 °C, 100 kPa), hazards (GHS-style, short),',
  'notable properties, each with your confidence from 0 to 1, and its average molar mass in',
  'g/mol. The facts were computed exactly; do not contradict them. Say "unknown" with low',
  'confidence rather than guessing.',
].join(' ');

/** The prompt for one molecule: the deterministic facts as JSON. */
export function promptFor(facts: MoleculeFacts): ChatMessage[] {
  const shown: Record<string, unknown> = {
    formula_as_submitted: facts.formula,
    hill_formula: facts.hill,
    composition: facts.composition,
    charge: facts.charge,
    average_molar_mass_g_per_mol: facts.averageMass,
    monoisotopic_mass_u: facts.monoisotopicMass,
  };
  if (facts.structure) {
    shown.canonical_smiles = facts.structure.canonicalSmiles;
    shown.inchi = facts.structure.inchi;
    shown.logp = facts.structure.logP;
    shown.tpsa = facts.structure.tpsa;
  } else if (facts.smiles) {
    shown.smiles = facts.smiles;
  }
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: JSON.stringify(shown) },
  ];
}

/**
 * The LLM-backed chemistry agent: asks an LlmClient (normally a ResilientLlmClient) for a
 * schema-structured answer and accepts it only when it validates and agrees with the computed
 * molar mass.
 */
export class LlmChemistryAgent implements ChemistryAgent {
  readonly name = 'llm';
  readonly #client: LlmClient;
  readonly #maxTokens: number;

  constructor(client: LlmClient, options: { maxTokens?: number } = {}) {
    this.#client = client;
    this.#maxTokens = options.maxTokens ?? 600;
  }

  get model(): string {
    return this.#client.model;
  }

  async describe(facts: MoleculeFacts, signal?: AbortSignal): Promise<AgentAnswer> {
    const response = await this.#client.complete({
      messages: promptFor(facts),
      schema: { name: 'chemistry_answer', schema: CHEMISTRY_ANSWER_SCHEMA },
      maxTokens: this.#maxTokens,
      ...(signal ? { signal } : {}),
    });
    try {
      const answer = acceptAnswer(response.content, facts);
      return { answer, model: response.model, usage: response.usage, raw: response.content };
    } catch (error) {
      // The rejected answer and what it cost are kept with the run.
      Object.assign(error as object, { raw: response.content, usage: response.usage });
      throw error;
    }
  }
}
