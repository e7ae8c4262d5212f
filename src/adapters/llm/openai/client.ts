import { injectTraceHeaders, inSpan, SpanKind } from '../../../observability/tracing.ts';
import type {
  ChatRequest,
  ChatResponse,
  LlmClient,
  RateLimitState,
  TokenUsage,
} from '../../../ports/llm.ts';
import { LlmError } from '../../../ports/llm.ts';

export interface OpenAiClientOptions {
  /** e.g. https://api.openai.com/v1, http://127.0.0.1:8080/v1 (llama.cpp), …/v1 (vLLM, Ollama). */
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
}

/**
 * `6m0s`, `1s`, `20ms`, `1.5s`, `0.5` (OpenAI's x-ratelimit-reset-* format, or bare seconds)
 * → milliseconds; undefined when unreadable.
 */
export function parseDuration(text: string | null): number | undefined {
  if (text === null) return undefined;
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  let rest = trimmed;
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ms|h|m|s)/.exec(rest);
    if (!match) return undefined;
    total += Number(match[1]) * (units[match[2] ?? ''] ?? 0);
    rest = rest.slice(match[0].length);
  }
  return trimmed.length > 0 ? Math.round(total) : undefined;
}

/** Retry-After (seconds or an HTTP date) or retry-after-ms → milliseconds from `now`. */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function count(text: string | null): number | undefined {
  if (text === null || !/^\d+$/.test(text.trim())) return undefined;
  return Number(text);
}

/** The x-ratelimit-* headers OpenAI (and vLLM/LiteLLM gateways) send. */
export function parseRateLimit(headers: Headers): RateLimitState {
  const state: RateLimitState = {};
  const remainingRequests = count(headers.get('x-ratelimit-remaining-requests'));
  const resetRequestsMs = parseDuration(headers.get('x-ratelimit-reset-requests'));
  const remainingTokens = count(headers.get('x-ratelimit-remaining-tokens'));
  const resetTokensMs = parseDuration(headers.get('x-ratelimit-reset-tokens'));
  if (remainingRequests !== undefined) state.remainingRequests = remainingRequests;
  if (resetRequestsMs !== undefined) state.resetRequestsMs = resetRequestsMs;
  if (remainingTokens !== undefined) state.remainingTokens = remainingTokens;
  if (resetTokensMs !== undefined) state.resetTokensMs = resetTokensMs;
  return state;
}

interface CompletionBody {
  model?: unknown;
  choices?: Array<{ message?: { content?: unknown; refusal?: unknown } }>;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown; total_tokens?: unknown };
}

const int = (value: unknown): number =>
  typeof value === 'number' && Number.isFinite(value) ? value : 0;

/**
 * An OpenAI-compatible chat-completions client over fetch: one POST to
 * `{baseUrl}/chat/completions` with a `json_schema` response format. Every failure is an
 * LlmError classified for retrying (429 → rate_limited with its Retry-After, 5xx → server,
 * abort → timeout, socket errors → network, unreadable bodies → bad_response). It does not
 * retry; ResilientLlmClient does.
 */
export class OpenAiCompatibleClient implements LlmClient {
  readonly #url: string;
  readonly #apiKey: string | undefined;
  readonly model: string;

  constructor(options: OpenAiClientOptions) {
    this.#url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.#apiKey = options.apiKey;
    this.model = options.model;
  }

  complete(request: ChatRequest): Promise<ChatResponse> {
    return inSpan(
      `chat ${this.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': this.model },
      },
      async (span) => {
        const response = await this.#post(request);
        span?.setAttributes({
          'gen_ai.response.model': response.model,
          'gen_ai.usage.input_tokens': response.usage.promptTokens,
          'gen_ai.usage.output_tokens': response.usage.completionTokens,
        });
        return response;
      },
    );
  }

  /** The HTTP call: the request, and its answer or failure classified (LlmError). */
  async #post(request: ChatRequest): Promise<ChatResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    // The provider (or a gateway in front of it) may continue the trace.
    injectTraceHeaders(headers);
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.#url, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          model: this.model,
          messages: request.messages,
          temperature: 0,
          max_tokens: request.maxTokens,
          response_format: {
            type: 'json_schema',
            json_schema: { name: request.schema.name, schema: request.schema.schema, strict: true },
          },
        }),
        ...(request.signal ? { signal: request.signal } : {}),
      });
      text = await response.text();
    } catch (error) {
      if (request.signal?.aborted) {
        throw new LlmError('timeout', 'the call was aborted before an answer', { cause: error });
      }
      throw new LlmError('network', `cannot reach the LLM provider: ${String(error)}`, {
        cause: error,
      });
    }
    const rateLimit = parseRateLimit(response.headers);
    if (!response.ok) {
      const status = response.status;
      const retryAfterMs = parseRetryAfter(response.headers);
      const detail = text.slice(0, 300);
      const options = {
        status,
        rateLimit,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
      if (status === 429) throw new LlmError('rate_limited', `429: ${detail}`, options);
      if (status >= 500 || status === 408) {
        throw new LlmError('server', `${status}: ${detail}`, options);
      }
      throw new LlmError('client', `${status}: ${detail}`, options);
    }
    let body: CompletionBody;
    try {
      body = JSON.parse(text) as CompletionBody;
    } catch (error) {
      throw new LlmError(
        'bad_response',
        `the provider's response is not JSON: ${text.slice(0, 200)}`,
        {
          cause: error,
          rateLimit,
        },
      );
    }
    const message = body.choices?.[0]?.message;
    if (typeof message?.content !== 'string') {
      const refusal = typeof message?.refusal === 'string' ? `: ${message.refusal}` : '';
      throw new LlmError('bad_response', `the response has no message content${refusal}`, {
        rateLimit,
      });
    }
    const usage: TokenUsage = {
      promptTokens: int(body.usage?.prompt_tokens),
      completionTokens: int(body.usage?.completion_tokens),
      totalTokens: int(body.usage?.total_tokens),
    };
    return {
      content: message.content,
      model: typeof body.model === 'string' ? body.model : this.model,
      usage,
      rateLimit,
    };
  }
}
