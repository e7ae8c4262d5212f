import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import type { ReadServer } from '../http/read-server.ts';
import type { Logger } from '../observability/logger.ts';
import type { Stops } from './stops.ts';

/**
 * The read routes' second port (READ_PORT, API role), when it is set; undefined when it is
 * off, or taken (the main port serves everything it would, so that is a warning, not a
 * failure).
 */
export async function startReadPort(
  config: Config,
  server: FastifyInstance,
  mainUrl: string,
  logger: Logger,
  stops: Stops,
): Promise<ReadServer | undefined> {
  if (config.readPort === undefined) return undefined;
  const { startReadServer } = await import('../http/read-server.ts');
  const read = await startReadServer(server, {
    host: config.host,
    port: config.readPort,
    mainUrl,
    requestTimeoutMs: config.requestTimeoutMs,
  });
  if (read === undefined) {
    logger.warn(
      { port: config.readPort, setting: 'READ_PORT' },
      `READ_PORT ${config.readPort} is taken: the read routes are served on ${mainUrl} only (READ_PORT=off silences this)`,
    );
    return undefined;
  }
  stops.add('read server', () => read.close());
  logger.info(
    { url: read.url, serves: 'GET analytics, events, molecules, agents, health, docs' },
    'read api listening',
  );
  return read;
}
