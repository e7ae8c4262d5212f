import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';

export type Logger = pino.Logger;

/** The ids that tie a log line to the event it is about. */
export interface EventLogContext {
  eventId: string;
  correlationId?: string | undefined;
}

const eventContext = new AsyncLocalStorage<EventLogContext>();

/**
 * Runs `work` so that every line logged while it runs (in any module, across awaits) carries
 * the event's `eventId` and `correlationId`, unless the line names them itself.
 *
 * @example
 * await withEventLogContext({ eventId: message.id, correlationId }, () => describe(message));
 */
export function withEventLogContext<T>(context: EventLogContext, work: () => T): T {
  return eventContext.run(context, work);
}

// Where credentials can appear in what Herald logs: request headers, configuration, provider
// options and errors carrying either.
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  'config.databaseUrl',
  'config.adminApiKey',
  'config.adminPassword',
  'config.llmApiKey',
  'config.smtpUrl',
  'config.sendgridApiKey',
  'config.twilioAuthToken',
  'config.vapidPrivateKey',
  'password',
  'apiKey',
  'token',
  'secret',
  '*.password',
  '*.apiKey',
  '*.token',
  '*.secret',
];

/** JSON logs, one line per event of interest; credentials never reach a line. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'herald', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Only lines logged inside withEventLogContext pay for more than a lookup.
      mixin: () => {
        const context = eventContext.getStore();
        if (context === undefined) return {};
        return context.correlationId === undefined
          ? { eventId: context.eventId }
          : { eventId: context.eventId, correlationId: context.correlationId };
      },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
