import pino from 'pino';

export type Logger = pino.Logger;

/** JSON logs, one line per event of interest; credentials never reach a line. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'herald', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-api-key"]',
          'config.databaseUrl',
          '*.password',
          '*.apiKey',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
