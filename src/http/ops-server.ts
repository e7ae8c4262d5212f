/**
 * The operations endpoints of a process without the API (`herald worker`): liveness,
 * readiness and Prometheus metrics on their own port, so an orchestrator can probe the process
 * and Prometheus can scrape it. Three read-only routes: plain node:http, no framework.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StalledShard } from '../app/stall-detector.ts';
import { ErrorCodes } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { PROBLEM_CONTENT_TYPE, type Problem, problem, problemOf } from './problem.ts';
import { checkReadiness, notReadyProblem, type Probe, stallReadiness } from './readiness.ts';

export interface OpsServerOptions {
  host: string;
  /** 0 = a free port. */
  port: number;
  metrics: Metrics;
  /** What must answer for the process to be ready (see readiness.ts). */
  readiness: Record<string, Probe>;
  /** Stalled partitions, reported by /health/ready without making it fail (see readiness.ts). */
  stalls?: () => readonly StalledShard[];
}

export interface OpsServer {
  /** Where it listens, e.g. http://127.0.0.1:9464. */
  readonly url: string;
  /** Stops listening; requests in flight are answered first. */
  close(): Promise<void>;
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const ROUTES = ['/health/live', '/health/ready', '/metrics'];

/**
 * Listens on `host:port` and answers `GET /health/live` (the process answers), `GET
 * /health/ready` (every readiness probe succeeds; 503 problem+json naming the failing ones
 * otherwise; stalled partitions listed either way) and `GET /metrics` (the process's
 * Prometheus registry).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((request, response) => {
    answer(request, options).then(
      (result) => send(response, result),
      (error: unknown) => {
        const body = problem(500, 'internal', 'Internal server error', String(error));
        send(response, problemAnswer(body));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closed: Promise<void> | undefined;
  return {
    url: urlOf(server.address() as AddressInfo),
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Scrapers keep connections alive; idle ones would hold close() open until they time out.
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}

async function answer(request: IncomingMessage, options: OpsServerOptions): Promise<Answer> {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  if (!ROUTES.includes(path)) {
    return problemAnswer(problemOf(ErrorCodes.NOT_FOUND, `no route ${path}`));
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const body = problem(405, 'method-not-allowed', 'Method not allowed', `${path} answers GET`);
    return { ...problemAnswer(body), headers: { allow: 'GET, HEAD' } };
  }
  if (path === '/health/live') {
    return json(200, { status: 'ok', uptime_s: Math.round(process.uptime()) });
  }
  if (path === '/health/ready') {
    const { ready, checks } = await checkReadiness(options.readiness);
    const stalls = stallReadiness(options.stalls?.() ?? []);
    return ready
      ? json(200, { status: 'ready', checks, ...stalls })
      : problemAnswer({ ...notReadyProblem(checks), ...stalls });
  }
  const { registry } = options.metrics;
  return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
}

function json(status: number, body: unknown): Answer {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(body) };
}

function problemAnswer(body: Problem): Answer {
  return { status: body.status, contentType: PROBLEM_CONTENT_TYPE, body: JSON.stringify(body) };
}

function send(response: ServerResponse, result: Answer): void {
  response.writeHead(result.status, {
    'content-type': result.contentType,
    'cache-control': 'no-store',
    ...result.headers,
  });
  // Node sends no body in the answer to a HEAD request.
  response.end(result.body);
}

/** An address bound to every interface is reached locally on the loopback one. */
function urlOf(address: AddressInfo): string {
  const unspecified = address.address === '0.0.0.0' || address.address === '::';
  const host = unspecified
    ? '127.0.0.1'
    : address.family === 'IPv6'
      ? `[${address.address}]`
      : address.address;
  return `http://${host}:${address.port}`;
}
