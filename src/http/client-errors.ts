import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problem, sendProblem } from './problem.ts';

const CLIENT_PROBLEMS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request-timeout', 'Request not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'headers-too-large', 'Request headers too large'],
};

/**
 * Answers requests Node's HTTP parser refuses before Fastify sees them (headers too large, a
 * request not received within REQUEST_TIMEOUT_MS, malformed HTTP) with a problem document,
 * like every other refusal, instead of Fastify's plain JSON; then closes the connection.
 */
export function problemClientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, slug, title] = CLIENT_PROBLEMS[error.code ?? ''] ?? [
    400,
    'malformed-request',
    'Malformed HTTP request',
  ];
  const body = JSON.stringify(problem(status, slug, title));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * Fastify's `frameworkErrors`: URLs its router refuses (a malformed percent-encoding, a path
 * parameter longer than the router allows) answered as problem documents, not plain JSON.
 */
export function problemFrameworkErrors(
  error: Error & { code?: string },
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const body =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? problem(414, 'uri-too-long', 'A path parameter is too long')
      : problem(400, 'malformed-request', 'Malformed URL', error.message);
  sendProblem(reply, body);
}
