import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ErrorCodes } from '../errors.ts';
import { PROBLEM_CONTENT_TYPE, problemOf } from './problem.ts';

/**
 * The read port (READ_PORT, 8001 by default): the API's read routes on a second port, for
 * clients written against a setup with a separate read service (seed 000's subscriber API on
 * 8001). It is not a second app: its requests go straight into the API's own Fastify instance
 * (`app.routing`, what Fastify's own server calls), so they meet the same hooks, auth, rate
 * limits, validation, errors and OpenAPI document, at no memory cost. Only reads pass: GET and
 * HEAD on the paths below; anything else is a 404 that names the main port.
 */
const READ_PATHS = [
  /^\/$/,
  /^\/health(\/|$)/,
  /^\/healthz$/,
  /^\/docs(\/|$)/,
  /^\/api\/v1\/analytics(\/|$)/,
  /^\/api\/v1\/events(\/|$)/,
  /^\/api\/v1\/molecules(\/|$)/,
  /^\/api\/v1\/agents(\/|$)/,
  /^\/api\/v1\/schemas(\/|$)/,
];

export function isReadRoute(method: string | undefined, url: string | undefined): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const path = (url ?? '/').split('?')[0] ?? '/';
  return READ_PATHS.some((pattern) => pattern.test(path));
}

export interface ReadServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Listens on `port`; resolves to undefined (after a warning through `onTaken`) when the port is
 * taken, since the main API serves everything the read port does.
 */
export async function startReadServer(
  app: FastifyInstance,
  options: { host: string; port: number; mainUrl: string; requestTimeoutMs: number },
): Promise<ReadServer | undefined> {
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (isReadRoute(request.method, request.url)) {
      app.routing(request, response);
      return;
    }
    const body = JSON.stringify(
      problemOf(
        ErrorCodes.NOT_FOUND,
        `the read port serves GET of analytics, events, molecules, agents, schemas, health and docs; ${request.method} ${request.url} is served at ${options.mainUrl}`,
      ),
    );
    response.writeHead(404, { 'content-type': PROBLEM_CONTENT_TYPE });
    response.end(body);
  });
  server.requestTimeout = options.requestTimeoutMs;
  server.on('clientError', (_error, socket) => socket.destroy());
  const listened = await new Promise<Error | undefined>((resolve) => {
    server.once('error', resolve);
    server.listen(options.port, options.host, () => resolve(undefined));
  });
  if (listened !== undefined) {
    if ((listened as NodeJS.ErrnoException).code === 'EADDRINUSE') return undefined;
    throw listened;
  }
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Keep-alive connections going idle while requests finish would hold close() open for
        // their keep-alive timeout: closed as they become idle, as on the main port.
        const sweeper = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearInterval(sweeper);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
