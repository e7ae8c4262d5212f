/**
 * What the chemistry agents need of the outside: a chat-completions model that answers in JSON
 * (`LlmClient`, one adapter per provider protocol) and an agent that describes a molecule from
 * its deterministic facts (`ChemistryAgent`: the LLM-backed one and the offline one).
 */
import { ErrorCodes, HeraldError } from '../errors.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  messages: readonly ChatMessage[];
  /** The JSON Schema the answer must follow (OpenAI `response_format: json_schema`). */
  schema: { name: string; schema: Record<string, unknown> };
  maxTokens: number;
  /** Aborts the call (per-call timeout, shutdown). */
  signal?: AbortSignal;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** Rate-limit state a provider reported in its response headers (x-ratelimit-*). */
export interface RateLimitState {
  remainingRequests?: number;
  resetRequestsMs?: number;
  remainingTokens?: number;
  resetTokensMs?: number;
}

export interface ChatResponse {
  /** The message content as sent: JSON text when the provider honoured the schema. */
  content: string;
  /** The model that answered, as the provider names it. */
  model: string;
  usage: TokenUsage;
  rateLimit: RateLimitState;
}

/**
 * How a call failed, as far as retrying is concerned: `rate_limited` (429), `server` (5xx),
 * `timeout` and `network` may pass later; `client` (other 4xx) and `bad_response` (not the
 * protocol's JSON) and `rejected` (an answer failing the schema or the cross-check) will not pass
 * by asking again right away; `circuit_open` and `overloaded`
 * are refusals of our own, raised before the provider is asked.
 */
export type LlmFailureKind =
  | 'rate_limited'
  | 'server'
  | 'timeout'
  | 'network'
  | 'client'
  | 'bad_response'
  | 'rejected'
  | 'circuit_open'
  | 'overloaded';

const TRANSIENT_KINDS: ReadonlySet<LlmFailureKind> = new Set([
  'rate_limited',
  'server',
  'timeout',
  'network',
  'circuit_open',
  'overloaded',
]);

/**
 * A failed LLM call (code HERALD_LLM_FAILED); `retryAfterMs` is the provider's Retry-After
 * when it sent one, `retryable` whether the provider may answer if asked again later.
 */
export class LlmError extends HeraldError {
  readonly kind: LlmFailureKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly rateLimit: RateLimitState;

  constructor(
    kind: LlmFailureKind,
    message: string,
    options: {
      status?: number;
      retryAfterMs?: number;
      rateLimit?: RateLimitState;
      cause?: unknown;
    } = {},
  ) {
    super(ErrorCodes.LLM_FAILED, message, {
      cause: options.cause,
      retryable: TRANSIENT_KINDS.has(kind),
    });
    this.name = 'LlmError';
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.rateLimit = options.rateLimit ?? {};
  }

  /** Whether the provider may answer this call if asked again later (`retryable`). */
  get transient(): boolean {
    return this.retryable;
  }
}

/** A chat-completions endpoint. */
export interface LlmClient {
  readonly model: string;
  complete(request: ChatRequest): Promise<ChatResponse>;
}

/** RDKit's view of a structure, when the event carried SMILES. */
export interface StructureDescriptors {
  canonicalSmiles: string;
  inchi: string;
  inchiKey: string;
  /** Molecular formula from the structure (InChI formula layer, Hill order). */
  formula: string;
  /** Whether `formula` equals the submitted formula's Hill form. */
  formulaMatches: boolean;
  averageMass: number;
  logP: number;
  tpsa: number;
  hbd: number;
  hba: number;
  rotatableBonds: number;
  heavyAtoms: number;
  lipinskiViolations: number;
}

/** What is known about a molecule without asking anyone: the input of every agent. */
export interface MoleculeFacts {
  moleculeId: string;
  formula: string;
  hill: string;
  composition: Record<string, number>;
  charge: number;
  averageMass: number;
  monoisotopicMass: number;
  smiles?: string;
  structure?: StructureDescriptors;
  /** Why a given SMILES has no descriptors (unparsable, toolkit unavailable). */
  structureError?: string;
}

export interface Assessment<T> {
  value: T;
  /** 0 … 1. */
  confidence: number;
}

/** An agent's description of a molecule; the JSON shape the LLM is asked for. */
export interface ChemistryAnswer {
  common_name: Assessment<string | null>;
  compound_class: Assessment<string>;
  physical_state: Assessment<'solid' | 'liquid' | 'gas' | 'unknown'>;
  hazards: Assessment<string>[];
  notable_properties: Assessment<string>[];
  /** The agent's molar mass, g/mol; cross-checked against the computed one. */
  molar_mass: number;
}

export interface AgentAnswer {
  answer: ChemistryAnswer;
  /** The model that answered (the offline agent names its rule set). */
  model: string;
  usage: TokenUsage | undefined;
  /** The raw text the model sent, kept with the run. */
  raw?: string;
}

/** Describes molecules. Throws LlmError when it cannot answer, or answered unacceptably. */
export interface ChemistryAgent {
  /** Recorded with each run: `llm` or `offline`. */
  readonly name: string;
  readonly model: string;
  describe(facts: MoleculeFacts, signal?: AbortSignal): Promise<AgentAnswer>;
}

/** Computes descriptors from a structure; unavailable toolkits say so, never pretend. */
export interface StructureToolkit {
  describe(smiles: string, hill: string): Promise<StructureDescriptors>;
}
