/**
 * One typed configuration, read once at the edge from environment variables and command-line
 * flags (a flag `--worker-batch-size 200` overrides `WORKER_BATCH_SIZE`). Invalid values fail
 * at start with an error naming the variable.
 */
import { ErrorCodes, HeraldError } from './errors.ts';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databaseSchema: string;
  databasePoolSize: number;
  broker: 'postgres';
  queuePartitions: number;
  workerConcurrency: number;
  workerBatchSize: number;
  workerLeaseMs: number;
  workerPollMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  retryMaxAttempts: number;
  maxBodyBytes: number;
  batchMaxEvents: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  shutdownTimeoutMs: number;
  auth: 'auto' | 'required' | 'disabled';
  adminApiKey: string | undefined;
  rateLimitPerMinute: number;
  requestTimeoutMs: number;
  maxJsonDepth: number;
  overloadEventLoopDelayMs: number;
  overloadPendingEvents: number;
  agentsEnabled: boolean;
  llmBaseUrl: string | undefined;
  llmApiKey: string | undefined;
  llmModel: string;
  llmTimeoutMs: number;
  llmRequestsPerMinute: number;
  llmTokensPerMinute: number;
  llmConcurrency: number;
  llmMaxRetries: number;
  llmRetryBaseMs: number;
  llmRetryMaxMs: number;
  llmMaxWaitMs: number;
  llmBreakerFailures: number;
  llmBreakerCooldownMs: number;
  agentsReenrichIntervalMs: number;
}

type Parser<T> = (raw: string, name: string) => T;

interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  default: Config[K];
  parse: Parser<Config[K]>;
  description: string;
  secret?: boolean;
}

function invalid(name: string, message: string): HeraldError {
  return new HeraldError(ErrorCodes.CONFIG_INVALID, `${name}: ${message}`, {
    details: { setting: name },
  });
}

function integer(min: number, max: number): Parser<number> {
  return (raw, name) => {
    if (!/^-?\d+$/.test(raw.trim())) throw invalid(name, `expected an integer, got "${raw}"`);
    const value = Number(raw);
    if (value < min || value > max) throw invalid(name, `must be between ${min} and ${max}`);
    return value;
  };
}

function oneOf<T extends string>(...choices: T[]): Parser<T> {
  return (raw, name) => {
    if ((choices as string[]).includes(raw)) return raw as T;
    throw invalid(name, `must be one of ${choices.join(', ')}, got "${raw}"`);
  };
}

const text: Parser<string> = (raw, name) => {
  if (raw.trim() === '') throw invalid(name, 'must not be empty');
  return raw;
};

const optionalUrl: Parser<string | undefined> = (raw, name) => {
  if (raw === '') return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) throw invalid(name, 'must be a postgres:// URL');
  return raw;
};

const booleanFlag: Parser<boolean> = (raw, name) => {
  if (/^(true|1|yes|on)$/i.test(raw.trim())) return true;
  if (/^(false|0|no|off)$/i.test(raw.trim())) return false;
  throw invalid(name, `expected true or false, got "${raw}"`);
};

const optionalHttpUrl: Parser<string | undefined> = (raw, name) => {
  if (raw === '') return undefined;
  if (!/^https?:\/\/\S+$/.test(raw)) throw invalid(name, 'must be an http:// or https:// URL');
  return raw;
};

const optionalText: Parser<string | undefined> = (raw) => (raw === '' ? undefined : raw);

const identifier: Parser<string> = (raw, name) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) {
    throw invalid(name, 'must be a lower-case SQL identifier (letters, digits, underscore)');
  }
  return raw;
};

const settings: { [K in keyof Config]: Setting<K> } = {
  port: {
    key: 'port',
    env: 'PORT',
    default: 8000,
    parse: integer(0, 65535),
    description: 'HTTP port',
  },
  host: {
    key: 'host',
    env: 'HOST',
    default: '127.0.0.1',
    parse: text,
    description: 'HTTP bind address',
  },
  dataDir: {
    key: 'dataDir',
    env: 'DATA_DIR',
    default: './data',
    parse: text,
    description: 'where the embedded database (PGlite) keeps its files; memory:// keeps nothing',
  },
  databaseUrl: {
    key: 'databaseUrl',
    env: 'DATABASE_URL',
    default: undefined,
    parse: optionalUrl,
    description: 'PostgreSQL server URL; unset = embedded PGlite in DATA_DIR',
    secret: true,
  },
  databaseSchema: {
    key: 'databaseSchema',
    env: 'DATABASE_SCHEMA',
    default: 'public',
    parse: identifier,
    description: 'schema holding Herald tables on a PostgreSQL server',
  },
  databasePoolSize: {
    key: 'databasePoolSize',
    env: 'DATABASE_POOL_SIZE',
    default: 10,
    parse: integer(1, 1000),
    description: 'connections per process to a PostgreSQL server',
  },
  broker: {
    key: 'broker',
    env: 'BROKER',
    default: 'postgres',
    parse: oneOf('postgres'),
    description: 'transport between API and workers',
  },
  queuePartitions: {
    key: 'queuePartitions',
    env: 'QUEUE_PARTITIONS',
    default: 8,
    parse: integer(1, 1024),
    description: 'partitions of the Postgres event log, fixed when the log is created',
  },
  workerConcurrency: {
    key: 'workerConcurrency',
    env: 'WORKER_CONCURRENCY',
    default: 2,
    parse: integer(1, 256),
    description: 'partitions one worker process processes at once',
  },
  workerBatchSize: {
    key: 'workerBatchSize',
    env: 'WORKER_BATCH_SIZE',
    default: 500,
    parse: integer(1, 10000),
    description: 'events consumed and persisted per batch',
  },
  workerLeaseMs: {
    key: 'workerLeaseMs',
    env: 'WORKER_LEASE_MS',
    default: 30000,
    parse: integer(200, 3600000),
    description:
      'how long a worker owns a partition without renewing; a crashed worker is replaced after this',
  },
  workerPollMs: {
    key: 'workerPollMs',
    env: 'WORKER_POLL_MS',
    default: 100,
    parse: integer(1, 60000),
    description: 'idle poll interval of a worker',
  },
  retryBaseMs: {
    key: 'retryBaseMs',
    env: 'RETRY_BASE_MS',
    default: 2000,
    parse: integer(0, 3600000),
    description: 'first retry delay cap; doubles per attempt (full jitter)',
  },
  retryMaxMs: {
    key: 'retryMaxMs',
    env: 'RETRY_MAX_MS',
    default: 60000,
    parse: integer(0, 86400000),
    description: 'largest retry delay',
  },
  retryMaxAttempts: {
    key: 'retryMaxAttempts',
    env: 'RETRY_MAX_ATTEMPTS',
    default: 3,
    parse: integer(0, 100),
    description: 'retries of a transiently failing event before it is dead-lettered',
  },
  maxBodyBytes: {
    key: 'maxBodyBytes',
    env: 'MAX_BODY_BYTES',
    default: 1048576,
    parse: integer(1024, 104857600),
    description: 'largest request body; larger gets 413',
  },
  batchMaxEvents: {
    key: 'batchMaxEvents',
    env: 'BATCH_MAX_EVENTS',
    default: 1000,
    parse: integer(1, 100000),
    description: 'most events in one batch request',
  },
  logLevel: {
    key: 'logLevel',
    env: 'LOG_LEVEL',
    default: 'info',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    description: 'pino log level',
  },
  shutdownTimeoutMs: {
    key: 'shutdownTimeoutMs',
    env: 'SHUTDOWN_TIMEOUT_MS',
    default: 10000,
    parse: integer(0, 600000),
    description: 'how long a graceful shutdown waits for in-flight work',
  },
  auth: {
    key: 'auth',
    env: 'AUTH',
    default: 'auto',
    parse: oneOf('auto', 'required', 'disabled'),
    description: 'API keys: auto = required unless HOST is a loopback address',
  },
  adminApiKey: {
    key: 'adminApiKey',
    env: 'ADMIN_API_KEY',
    default: undefined,
    parse: (raw, name) => {
      if (raw === '') return undefined;
      if (raw.length < 32) throw invalid(name, 'must be at least 32 characters');
      return raw;
    },
    description: 'a key with every scope, for bootstrapping (create real keys with it)',
    secret: true,
  },
  rateLimitPerMinute: {
    key: 'rateLimitPerMinute',
    env: 'RATE_LIMIT_PER_MINUTE',
    default: 60000,
    parse: integer(0, 100000000),
    description: 'requests per minute per API key (or address) when auth is on; 0 = no limit',
  },
  requestTimeoutMs: {
    key: 'requestTimeoutMs',
    env: 'REQUEST_TIMEOUT_MS',
    default: 30000,
    parse: integer(0, 600000),
    description: 'longest time to receive a whole request',
  },
  maxJsonDepth: {
    key: 'maxJsonDepth',
    env: 'MAX_JSON_DEPTH',
    default: 32,
    parse: integer(2, 1000),
    description: 'deepest nesting of objects and arrays accepted in a body',
  },
  overloadEventLoopDelayMs: {
    key: 'overloadEventLoopDelayMs',
    env: 'OVERLOAD_EVENT_LOOP_DELAY_MS',
    default: 1000,
    parse: integer(0, 60000),
    description: 'event-loop delay beyond which the API answers 503 + Retry-After; 0 = off',
  },
  overloadPendingEvents: {
    key: 'overloadPendingEvents',
    env: 'OVERLOAD_PENDING_EVENTS',
    default: 100000,
    parse: integer(0, 100000000),
    description: 'events waiting for a commit beyond which the API answers 503; 0 = off',
  },
  agentsEnabled: {
    key: 'agentsEnabled',
    env: 'AGENTS_ENABLED',
    default: true,
    parse: booleanFlag,
    description: 'run the chemistry agent on chemical events (with the worker role)',
  },
  llmBaseUrl: {
    key: 'llmBaseUrl',
    env: 'LLM_BASE_URL',
    default: undefined,
    parse: optionalHttpUrl,
    description:
      'OpenAI-compatible API base, e.g. https://api.openai.com/v1; unset = offline agent only',
  },
  llmApiKey: {
    key: 'llmApiKey',
    env: 'LLM_API_KEY',
    default: undefined,
    parse: optionalText,
    description: 'bearer token for LLM_BASE_URL (none for local servers)',
    secret: true,
  },
  llmModel: {
    key: 'llmModel',
    env: 'LLM_MODEL',
    default: 'gpt-4o-mini',
    parse: text,
    description: 'model name sent to LLM_BASE_URL',
  },
  llmTimeoutMs: {
    key: 'llmTimeoutMs',
    env: 'LLM_TIMEOUT_MS',
    default: 30000,
    parse: integer(10, 600000),
    description: 'timeout of one LLM call',
  },
  llmRequestsPerMinute: {
    key: 'llmRequestsPerMinute',
    env: 'LLM_REQUESTS_PER_MINUTE',
    default: 60,
    parse: integer(1, 1000000),
    description: 'client-side limit on LLM requests per minute (bursts of one second of them)',
  },
  llmTokensPerMinute: {
    key: 'llmTokensPerMinute',
    env: 'LLM_TOKENS_PER_MINUTE',
    default: 100000,
    parse: integer(100, 100000000),
    description: 'client-side limit on LLM tokens per minute (estimated before, counted after)',
  },
  llmConcurrency: {
    key: 'llmConcurrency',
    env: 'LLM_CONCURRENCY',
    default: 2,
    parse: integer(1, 256),
    description: 'LLM calls in flight at once',
  },
  llmMaxRetries: {
    key: 'llmMaxRetries',
    env: 'LLM_MAX_RETRIES',
    default: 3,
    parse: integer(0, 20),
    description: 'retries of an LLM call after a 429, 5xx, timeout or network error',
  },
  llmRetryBaseMs: {
    key: 'llmRetryBaseMs',
    env: 'LLM_RETRY_BASE_MS',
    default: 1000,
    parse: integer(0, 3600000),
    description: 'first LLM retry delay cap; doubles per attempt (full jitter)',
  },
  llmRetryMaxMs: {
    key: 'llmRetryMaxMs',
    env: 'LLM_RETRY_MAX_MS',
    default: 30000,
    parse: integer(0, 3600000),
    description: 'largest LLM retry delay',
  },
  llmMaxWaitMs: {
    key: 'llmMaxWaitMs',
    env: 'LLM_MAX_WAIT_MS',
    default: 60000,
    parse: integer(0, 3600000),
    description:
      'longest an event waits for rate limits and retries before the offline agent answers',
  },
  llmBreakerFailures: {
    key: 'llmBreakerFailures',
    env: 'LLM_BREAKER_FAILURES',
    default: 5,
    parse: integer(1, 1000),
    description: 'consecutive failed LLM calls that open the circuit breaker',
  },
  llmBreakerCooldownMs: {
    key: 'llmBreakerCooldownMs',
    env: 'LLM_BREAKER_COOLDOWN_MS',
    default: 30000,
    parse: integer(10, 3600000),
    description: 'how long an open circuit refuses LLM calls before one trial call',
  },
  agentsReenrichIntervalMs: {
    key: 'agentsReenrichIntervalMs',
    env: 'AGENTS_REENRICH_INTERVAL_MS',
    default: 60000,
    parse: integer(0, 86400000),
    description: 'how often fallback answers are sent to the LLM again; 0 = never',
  },
};

export const configSettings = Object.values(settings) as Setting<keyof Config>[];

/** `--worker-batch-size` ⇄ `WORKER_BATCH_SIZE`. */
export function flagToEnv(flag: string): string {
  return flag.replace(/^--/, '').replaceAll('-', '_').toUpperCase();
}

/**
 * Reads the configuration from `env`, with `flags` (already parsed `--name value` pairs,
 * names as env vars) taking precedence.
 *
 * @example
 * const config = loadConfig(process.env, { PORT: '9000' });
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  flags: Record<string, string> = {},
): Config {
  const known = new Set(configSettings.map((s) => s.env));
  for (const name of Object.keys(flags)) {
    if (!known.has(name)) {
      throw invalid(`--${name.toLowerCase().replaceAll('_', '-')}`, 'unknown option');
    }
  }
  const config: Partial<Record<keyof Config, unknown>> = {};
  for (const setting of configSettings) {
    const raw = flags[setting.env] ?? env[setting.env];
    config[setting.key] = raw === undefined ? setting.default : setting.parse(raw, setting.env);
  }
  return config as Config;
}

/** The configuration as it is safe to log: secrets and URL passwords masked. */
export function redactConfig(config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const setting of configSettings) {
    const value = config[setting.key];
    shown[setting.key] =
      setting.secret && typeof value === 'string'
        ? value.includes('://')
          ? value.replace(/:[^:@/]*@/, ':***@')
          : '***'
        : value;
  }
  return shown;
}
