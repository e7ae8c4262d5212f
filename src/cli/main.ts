import { resolve } from 'node:path';
import { type Config, configChanges, configSettings, loadConfig, redactConfig } from '../config.ts';
import { isHeraldError } from '../errors.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import {
  startTracing,
  stopTracing,
  type TracingSettings,
  tracingSettingsFromEnv,
} from '../observability/tracing.ts';
import { migrateDatabase, openDatabase } from '../platform/database.ts';
import { type Roles, startPlatform } from '../platform/start.ts';
import { VERSION } from '../version.ts';
import { parseArgs } from './args.ts';
import { columns, optionsHelp } from './help.ts';

// The client commands (./commands/index.ts) are loaded only to run one or to list them: a
// server process has no use for them (the load generator's histogram is a few MB of RSS).
const loadClientCommands = () => import('./commands/index.ts');

/** Exit codes: 0 done, 1 failed while running, 2 bad usage or configuration. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const COMMANDS: Record<string, { summary: string; roles?: Roles }> = {
  start: {
    summary: 'API and workers in one process (the default for one machine)',
    roles: { api: true, worker: true },
  },
  api: {
    summary: 'the HTTP API only (needs DATABASE_URL: one process owns the embedded database)',
    roles: { api: true, worker: false },
  },
  worker: { summary: 'a worker only (needs DATABASE_URL)', roles: { api: false, worker: true } },
  migrate: { summary: 'apply database migrations and exit' },
  config: { summary: 'print the effective configuration (secrets masked) and exit' },
  version: { summary: 'print the version' },
};

async function usage(): Promise<string> {
  const { clientCommands } = await loadClientCommands();
  const commands = columns(Object.entries(COMMANDS).map(([name, c]) => [name, c.summary]));
  const client = columns(Object.values(clientCommands).map((c) => [c.name, c.summary]));
  return `herald ${VERSION}: durable event ingestion and processing

Usage: herald <command> [options]

Commands:
${commands}

Client commands (talk to a running Herald; \`herald <command> --help\` for their options):
${client}

Options (each also read from the environment variable beside it), by area:

${optionsHelp(configSettings)}
`;
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.command === undefined || args.command === 'help') {
    process.stdout.write(await usage());
    return args.command === undefined && !args.help ? EXIT_USAGE : 0;
  }
  const command = COMMANDS[args.command];
  if (command === undefined) {
    const { clientCommands, runClientCommand } = await loadClientCommands();
    const client = clientCommands[args.command];
    if (client === undefined) {
      process.stderr.write(`herald: unknown command "${args.command}"\n\n${await usage()}`);
      return EXIT_USAGE;
    }
    // Client commands parse their own options (booleans, repeated ids) from the raw argv.
    const rest = [...argv];
    rest.splice(rest.indexOf(args.command), 1);
    return runClientCommand(client, rest, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
    });
  }
  if (args.help) {
    process.stdout.write(`herald ${args.command}: ${command.summary}\n\n${await usage()}`);
    return 0;
  }
  if (args.command === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }

  let config: Config;
  let tracing: TracingSettings | undefined;
  try {
    config = loadConfig(process.env, args.flags);
    tracing = tracingSettingsFromEnv(process.env);
  } catch (error) {
    process.stderr.write(`herald: invalid configuration: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  if (args.command === 'config') {
    // Tracing is configured by the standard OTEL_* variables; shown here all the same.
    const traces =
      tracing === undefined
        ? 'off'
        : { ...tracing, endpoint: tracing.endpoint.replace(/:[^:@/]*@/, ':***@') };
    process.stdout.write(
      `${JSON.stringify({ ...redactConfig(config), tracing: traces }, null, 2)}\n`,
    );
    return 0;
  }
  const logger = createLogger(config.logLevel);
  if (args.command === 'migrate') {
    const db = await openDatabase(config, 'migrate', logger);
    try {
      const applied = await migrateDatabase(db);
      logger.info(
        { applied },
        applied.length > 0 ? 'migrations applied' : 'database is up to date',
      );
    } finally {
      await db.close();
    }
    return 0;
  }
  if (tracing !== undefined) {
    // Before anything opens: the database and the API are instrumented as they are built.
    await startTracing(tracing);
    logger.info({ endpoint: tracing.endpoint, serviceName: tracing.serviceName }, 'tracing on');
  }
  try {
    return await serve(config, logger, command.roles ?? { api: true, worker: true });
  } finally {
    await stopTracing().catch((error: unknown) =>
      logger.warn({ err: error }, 'the last spans could not be exported'),
    );
  }
}

/**
 * Runs until SIGTERM/SIGINT, then stops gracefully within SHUTDOWN_TIMEOUT_MS. A signal that
 * comes while the platform is still starting is kept and acted on once it has started, so a
 * process stopped early (a deploy rolled back, a test tearing down) still stops cleanly.
 */
async function serve(config: Config, logger: Logger, roles: Roles): Promise<number> {
  // Only what differs from the defaults; the whole configuration at debug level (and from
  // `herald config`).
  logger.info({ settings: configChanges(config), roles, version: VERSION }, 'herald starting');
  logger.debug({ config: redactConfig(config) }, 'configuration');
  const early: NodeJS.Signals[] = [];
  let handle = (signal: NodeJS.Signals) => {
    early.push(signal);
  };
  const onSignal = (signal: NodeJS.Signals) => handle(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const platform = await startPlatform(config, logger, roles);
  logReady(config, logger, platform);
  return new Promise((resolve) => {
    let stopping = false;
    handle = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        resolve(EXIT_FAILURE);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out');
        resolve(EXIT_FAILURE);
      }, config.shutdownTimeoutMs);
      platform.stop().then(
        () => {
          clearTimeout(timer);
          logger.info('stopped');
          resolve(0);
        },
        (error: unknown) => {
          clearTimeout(timer);
          logger.error({ err: error }, 'shutdown failed');
          resolve(EXIT_FAILURE);
        },
      );
    };
    for (const signal of early) handle(signal);
  });
}

/** The first run's one line to read: where everything is. */
function logReady(
  config: Config,
  logger: Logger,
  platform: Awaited<ReturnType<typeof startPlatform>>,
): void {
  const data =
    config.databaseUrl !== undefined
      ? `${redactConfig(config).databaseUrl} (schema ${config.databaseSchema})`
      : config.dataDir.startsWith('memory://')
        ? 'memory:// (a temporary PostgreSQL, removed at stop)'
        : `${resolve(config.dataDir)} (PostgreSQL cluster in postgres/, its log in postgres.log)`;
  const urls =
    platform.url === undefined
      ? { ops: platform.opsUrl }
      : {
          api: platform.url,
          docs: `${platform.url}/docs`,
          dashboard: `${platform.url}/dashboard/`,
          ...(platform.readUrl === undefined ? {} : { read: platform.readUrl }),
        };
  const lines = Object.entries({ ...urls, data }).map(([name, value]) => `${name} ${value}`);
  logger.info({ ...urls, data }, `herald ready: ${lines.join(', ')}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Anything still holding the loop open after a clean stop must not keep the process alive.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (error: unknown) => {
    if (isHeraldError(error)) {
      process.stderr.write(`herald: ${error.message}\n`);
      process.exit(error.code === 'HERALD_CONFIG_INVALID' ? EXIT_USAGE : EXIT_FAILURE);
    }
    process.stderr.write(
      `herald: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(EXIT_FAILURE);
  },
);
