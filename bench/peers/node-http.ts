/**
 * The floor of the ingest comparison: a bare node:http server that reads the body, parses it
 * as JSON and answers 202 with an id, durably storing nothing. Any path, any POST.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end('{"status":"invalid"}');
      return;
    }
    const count =
      body !== null &&
      typeof body === 'object' &&
      Array.isArray((body as { events?: unknown }).events)
        ? (body as { events: unknown[] }).events.length
        : 1;
    response.writeHead(202, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ status: 'accepted', event_id: randomUUID(), accepted: count }));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
