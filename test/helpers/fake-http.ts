/**
 * A local HTTP server (real HTTP on 127.0.0.1) standing in for a notification provider
 * (SendGrid, Twilio, a push service, a webhook receiver) whose answers a test scripts:
 * a status with headers and body, or no answer at all. Every request is recorded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cleanup } from './platform.ts';

export type FakeAnswer =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Never answers (until the server closes). */
  | { kind: 'hang' };

export interface FakeRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  text: string;
}

export interface FakeHttp {
  url: string;
  port: number;
  requests: FakeRequest[];
  /** Queues answers for the next requests, in order. */
  script(...answers: FakeAnswer[]): void;
  /** What requests get once the script is used up. */
  setDefault(answer: FakeAnswer): void;
  close(): Promise<void>;
}

export const status = (
  code: number,
  headers: Record<string, string> = {},
  body = '',
): FakeAnswer => ({ kind: 'status', status: code, headers, body });

export async function startFakeHttp(
  t: Cleanup,
  fallback: FakeAnswer = status(200),
): Promise<FakeHttp> {
  const queue: FakeAnswer[] = [];
  let byDefault = fallback;
  const requests: FakeRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        at: Date.now(),
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body,
        text: body.toString('utf8'),
      });
      const answer = queue.shift() ?? byDefault;
      if (answer.kind === 'hang') {
        hanging.add(response);
        return;
      }
      response.writeHead(answer.status, answer.headers ?? {});
      response.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    for (const response of hanging) response.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    script: (...answers) => queue.push(...answers),
    setDefault: (answer) => {
      byDefault = answer;
    },
    close,
  };
}
