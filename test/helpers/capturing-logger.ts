import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger.ts';

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** A logger whose lines are kept, parsed, in `lines` (pino writes them asynchronously). */
export function capturingLogger(level = 'info'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n')) {
        if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
      }
      done();
    },
  });
  return { logger: createLogger(level, destination), lines };
}
