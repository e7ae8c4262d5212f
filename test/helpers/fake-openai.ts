/**
 * A local OpenAI-compatible chat-completions server (real HTTP on 127.0.0.1) whose behaviour a
 * test scripts: answer well, answer with given content, 429 with Retry-After, 500, hang, or
 * send a body that is not JSON. Every request is recorded with its arrival time.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cleanup } from './platform.ts';

export type Behaviour =
  /** A schema-valid answer built from the prompt's facts (molar mass as computed). */
  | { kind: 'answer'; headers?: Record<string, string>; molarMass?: number }
  /** 200 with this message content. */
  | { kind: 'content'; content: string }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Never answers (until the server closes). */
  | { kind: 'hang' }
  /** 200 whose body is not JSON. */
  | { kind: 'malformed' };

export interface RecordedRequest {
  at: number;
  path: string;
  authorization: string | undefined;
  /** The W3C trace context the client passed on, if any. */
  traceparent: string | undefined;
  body: Record<string, unknown>;
}

export interface FakeOpenAi {
  /** Base URL to use as LLM_BASE_URL (ends in /v1). */
  url: string;
  requests: RecordedRequest[];
  /** Queues behaviours for the next requests, in order. */
  script(...behaviours: Behaviour[]): void;
  /** What requests get once the script is used up. */
  setDefault(behaviour: Behaviour): void;
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      text += chunk;
    });
    request.on('end', () => resolve(text));
    request.on('error', reject);
  });
}

/** The answer a good model would give for the facts in the prompt. */
export function goodAnswer(body: Record<string, unknown>, molarMass?: number) {
  const messages = body.messages as Array<{ role: string; content: string }>;
  const facts = JSON.parse(messages.at(-1)?.content ?? '{}') as Record<string, unknown>;
  return {
    common_name: { value: `fake name of ${String(facts.hill_formula)}`, confidence: 0.8 },
    compound_class: { value: 'fake class', confidence: 0.7 },
    physical_state: { value: 'solid', confidence: 0.6 },
    hazards: [{ value: 'harmful if swallowed', confidence: 0.5 }],
    notable_properties: [{ value: 'answered by the fake provider', confidence: 0.9 }],
    molar_mass: molarMass ?? facts.average_molar_mass_g_per_mol,
  };
}

function completion(content: string) {
  return JSON.stringify({
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    model: 'fake-model-2025',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 120, completion_tokens: 80, total_tokens: 200 },
  });
}

export async function startFakeOpenAi(t: Cleanup): Promise<FakeOpenAi> {
  const queue: Behaviour[] = [];
  let fallback: Behaviour = { kind: 'answer' };
  const requests: RecordedRequest[] = [];

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const text = await readBody(request);
    const body = JSON.parse(text || '{}') as Record<string, unknown>;
    requests.push({
      at: performance.now(),
      path: request.url ?? '',
      authorization: request.headers.authorization,
      traceparent: request.headers.traceparent as string | undefined,
      body,
    });
    if (request.url !== '/v1/chat/completions') {
      response.writeHead(404).end();
      return;
    }
    const behaviour = queue.shift() ?? fallback;
    switch (behaviour.kind) {
      case 'answer':
        response
          .writeHead(200, { 'content-type': 'application/json', ...behaviour.headers })
          .end(completion(JSON.stringify(goodAnswer(body, behaviour.molarMass))));
        return;
      case 'content':
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(completion(behaviour.content));
        return;
      case 'status':
        response
          .writeHead(behaviour.status, { 'content-type': 'application/json', ...behaviour.headers })
          .end(
            behaviour.body ?? JSON.stringify({ error: { message: `status ${behaviour.status}` } }),
          );
        return;
      case 'hang':
        return;
      case 'malformed':
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [');
        return;
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  const fake: FakeOpenAi = {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...behaviours) => queue.push(...behaviours),
    setDefault: (behaviour) => {
      fallback = behaviour;
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Hanging requests keep their sockets open; end them.
        server.closeAllConnections();
      });
      return closed;
    },
  };
  t.after(() => fake.close());
  return fake;
}
