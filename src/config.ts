/**
 * One typed configuration, read once at the edge from environment variables and command-line
 * flags (a flag `--worker-batch-size 200` overrides `WORKER_BATCH_SIZE`). Invalid values fail
 * at start with an error naming the variable. Every setting is declared once, below, in one
 * form and with its area; `npm run docs:config` writes docs/configuration.md from them (a
 * table per area) and `herald --help` lists them.
 */
import { formatDuration, parseDuration } from './domain/durations.ts';
import { ErrorCodes, HeraldError } from './errors.ts';

export interface Config {
  // Server
  port: number;
  host: string;
  readPort: number | undefined;
  opsPort: number;
  shutdownTimeoutMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  // Database
  databaseUrl: string | undefined;
  databaseSchema: string;
  databasePoolSize: number;
  dataDir: string;
  embeddedDatabaseUser: string;
  // Broker
  broker: 'postgres' | 'redis' | 'kafka';
  redisUrl: string | undefined;
  kafkaBrokers: string[];
  kafkaSessionTimeoutMs: number;
  kafkaReplicationFactor: number;
  brokerNamespace: string;
  queuePartitions: number;
  // Workers
  workerConcurrency: number;
  workerBatchSize: number;
  workerLeaseMs: number;
  workerPollMs: number;
  stallAfterMs: number;
  // Retries
  retryBaseMs: number;
  retryMaxMs: number;
  retryMaxAttempts: number;
  // Limits
  maxBodyBytes: number;
  batchMaxEvents: number;
  requestTimeoutMs: number;
  maxJsonDepth: number;
  overloadEventLoopDelayMs: number;
  overloadPendingEvents: number;
  // Authentication
  auth: 'auto' | 'required' | 'disabled';
  adminApiKey: string | undefined;
  rateLimitPerMinute: number;
  // Agents and LLM
  agentsEnabled: boolean;
  agentsReenrichIntervalMs: number;
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
  // Analytics
  analyticsSealIntervalMs: number;
  // Users
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  usersOpenRegistration: boolean;
  sessionTtlMs: number;
  loginFreeFailures: number;
  loginAccountFreeFailures: number;
  loginDelayBaseMs: number;
  loginDelayMaxMs: number;
  loginWindowMs: number;
  loginTrustedAddressMs: number;
  outboxPollMs: number;
  // Notifications
  notificationsEnabled: boolean;
  notifyTopics: string[];
  emailTransport: 'auto' | 'smtp' | 'sendgrid' | 'log';
  emailFrom: string;
  smtpUrl: string | undefined;
  sendgridApiKey: string | undefined;
  sendgridBaseUrl: string;
  twilioAccountSid: string | undefined;
  twilioAuthToken: string | undefined;
  twilioFrom: string | undefined;
  twilioBaseUrl: string;
  vapidPublicKey: string | undefined;
  vapidPrivateKey: string | undefined;
  vapidSubject: string;
  notifyPollMs: number;
  notifyTimeoutMs: number;
  notifyLeaseMs: number;
  notifyRetryBaseMs: number;
  notifyRetryMaxMs: number;
  notifyMaxAttempts: number;
  webhookDisableAfterFailures: number;
  webhookDisableAfterMs: number;
  webhookSecretRotationMs: number;
  webhookAllowPrivateTargets: string[];
  // Event contracts
  schemasRequired: boolean;
  schemasPollMs: number;
  // The log over time (issue #20)
  logRetentionMs: number | undefined;
  logSegmentMs: number;
  dedupeWindowMs: number;
  historyRetentionMs: number | undefined;
  deadLetterRetentionMs: number | undefined;
  processedRetentionMs: number | undefined;
  retentionIntervalMs: number;
  replayPollMs: number;
}

type Parser<T> = (raw: string, name: string) => T;

/** The areas settings are grouped in (docs/configuration.md has a table per area, in this order). */
export const AREAS = [
  'Server',
  'Database',
  'Broker',
  'Workers',
  'Retries',
  'Limits',
  'Authentication',
  'Agents and LLM',
  'Analytics',
  'Users',
  'Notifications',
  'Event contracts',
  'Log over time',
] as const;

export type Area = (typeof AREAS)[number];

/** A setting as declared: where it is read from, its default, how it is parsed. */
interface Declaration<K extends keyof Config> {
  area: Area;
  env: string;
  default: Config[K];
  parse: Parser<Config[K]>;
  description: string;
  /** Masked by `herald config` and in logs. */
  secret?: boolean;
}

/** A declared setting with the Config key it fills. */
export interface Setting<K extends keyof Config> extends Declaration<K> {
  key: K;
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

const list: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

const smtpUrl: Parser<string | undefined> = (raw, name) => {
  if (raw === '') return undefined;
  if (!/^smtps?:\/\/\S+$/.test(raw)) throw invalid(name, 'must be an smtp:// or smtps:// URL');
  return raw;
};

const httpUrl: Parser<string> = (raw, name) => {
  if (!/^https?:\/\/\S+$/.test(raw)) throw invalid(name, 'must be an http:// or https:// URL');
  return raw.replace(/\/+$/, '');
};

/** A duration: 7d, 12h, 30m, 45s or milliseconds, between `min` and `max` ms. */
function duration(min: number, max: number): Parser<number> {
  return (raw, name) => {
    const ms = parseDuration(raw);
    if (ms === undefined) {
      throw invalid(name, `expected a duration such as 7d, 12h, 30m, 45s or ms, got "${raw}"`);
    }
    if (ms < min || ms > max) {
      throw invalid(name, `must be between ${formatDuration(min)} and ${formatDuration(max)}`);
    }
    return ms;
  };
}

/** How long something is kept: a duration of at least `min` ms, or keep (forever). */
function retention(min: number): Parser<number | undefined> {
  const parse = duration(min, 3650 * 86_400_000);
  return (raw, name) => (/^(keep|forever)$/i.test(raw.trim()) ? undefined : parse(raw, name));
}

const settings: { [K in keyof Config]: Declaration<K> } = {
  port: {
    area: 'Server',
    env: 'PORT',
    default: 8000,
    parse: integer(0, 65535),
    description: 'HTTP port',
  },
  host: {
    area: 'Server',
    env: 'HOST',
    default: '127.0.0.1',
    parse: text,
    description: 'HTTP bind address',
  },
  readPort: {
    area: 'Server',
    env: 'READ_PORT',
    default: 8001,
    parse: (raw, name) => {
      if (/^(|off|false|no)$/i.test(raw.trim())) return undefined;
      return integer(0, 65535)(raw, name);
    },
    description:
      'a second API port serving the read routes (analytics, event lookups, docs, health) on HOST; off = none; skipped with a warning when taken',
  },
  opsPort: {
    area: 'Server',
    env: 'OPS_PORT',
    default: 9464,
    parse: integer(0, 65535),
    description:
      'port of /health/live, /health/ready and /metrics of a process without the API (herald worker); 0 = a free port',
  },
  shutdownTimeoutMs: {
    area: 'Server',
    env: 'SHUTDOWN_TIMEOUT_MS',
    default: 10000,
    parse: integer(0, 600000),
    description: 'how long a graceful shutdown waits for in-flight work',
  },
  logLevel: {
    area: 'Server',
    env: 'LOG_LEVEL',
    default: 'info',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    description: 'pino log level',
  },
  databaseUrl: {
    area: 'Database',
    env: 'DATABASE_URL',
    default: undefined,
    parse: optionalUrl,
    description: 'PostgreSQL server URL; unset = a PostgreSQL Herald runs itself, in DATA_DIR',
    secret: true,
  },
  databaseSchema: {
    area: 'Database',
    env: 'DATABASE_SCHEMA',
    default: 'public',
    parse: identifier,
    description: 'schema holding Herald tables on a PostgreSQL server',
  },
  databasePoolSize: {
    area: 'Database',
    env: 'DATABASE_POOL_SIZE',
    default: 10,
    parse: integer(1, 1000),
    description: 'connections per process to a PostgreSQL server',
  },
  dataDir: {
    area: 'Database',
    env: 'DATA_DIR',
    default: './data',
    parse: text,
    description:
      'where the embedded PostgreSQL (no DATABASE_URL) keeps its cluster, log and lock; memory:// keeps nothing',
  },
  embeddedDatabaseUser: {
    area: 'Database',
    env: 'EMBEDDED_DATABASE_USER',
    default: 'postgres',
    parse: text,
    description:
      'the unprivileged OS user the embedded PostgreSQL runs as when herald runs as root (PostgreSQL refuses root)',
  },
  broker: {
    area: 'Broker',
    env: 'BROKER',
    default: 'postgres',
    parse: oneOf('postgres', 'redis', 'kafka'),
    description: 'transport between API and workers: postgres (the event log), redis or kafka',
  },
  redisUrl: {
    area: 'Broker',
    env: 'REDIS_URL',
    default: undefined,
    parse: (raw, name) => {
      if (raw === '') return undefined;
      if (!/^rediss?:\/\/\S+$/.test(raw)) throw invalid(name, 'must be a redis:// URL');
      return raw;
    },
    description: 'Redis server of the redis broker, e.g. redis://127.0.0.1:6379',
    secret: true,
  },
  kafkaBrokers: {
    area: 'Broker',
    env: 'KAFKA_BROKERS',
    default: [],
    parse: (raw, name) => {
      const brokers = raw
        .split(',')
        .map((b) => b.trim())
        .filter((b) => b !== '');
      for (const broker of brokers) {
        if (!/^[^\s:/]+:\d{1,5}$/.test(broker)) {
          throw invalid(name, `expected host:port[,host:port...], got "${broker}"`);
        }
      }
      return brokers;
    },
    description: 'bootstrap brokers of the kafka broker, e.g. 10.0.0.1:9092,10.0.0.2:9092',
  },
  kafkaSessionTimeoutMs: {
    area: 'Broker',
    env: 'KAFKA_SESSION_TIMEOUT_MS',
    default: 10000,
    parse: integer(6000, 300000),
    description: "how soon Kafka gives a crashed worker's partitions to another",
  },
  kafkaReplicationFactor: {
    area: 'Broker',
    env: 'KAFKA_REPLICATION_FACTOR',
    default: -1,
    parse: (raw, name) => {
      const factor = integer(-1, 32767)(raw, name);
      if (factor === 0) throw invalid(name, 'must be -1 (the broker default) or at least 1');
      return factor;
    },
    description:
      "replication factor of the Kafka topics Herald creates; -1 = the broker's default.replication.factor",
  },
  brokerNamespace: {
    area: 'Broker',
    env: 'BROKER_NAMESPACE',
    default: 'herald',
    parse: (raw, name) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(raw)) {
        throw invalid(name, 'letters, digits, ".", "_" and "-" only (at most 63)');
      }
      return raw;
    },
    description:
      'prefix of Kafka topics and consumer groups and of Redis keys, so installations can share a cluster',
  },
  queuePartitions: {
    area: 'Broker',
    env: 'QUEUE_PARTITIONS',
    default: 8,
    parse: integer(1, 1024),
    description:
      'partitions of the event log (postgres), of each topic (kafka) or streams per topic (redis), fixed at creation',
  },
  workerConcurrency: {
    area: 'Workers',
    env: 'WORKER_CONCURRENCY',
    default: 2,
    parse: integer(1, 256),
    description: 'partitions one worker process processes at once',
  },
  workerBatchSize: {
    area: 'Workers',
    env: 'WORKER_BATCH_SIZE',
    default: 500,
    parse: integer(1, 10000),
    description: 'events consumed and persisted per batch',
  },
  workerLeaseMs: {
    area: 'Workers',
    env: 'WORKER_LEASE_MS',
    default: 30000,
    parse: integer(200, 3600000),
    description:
      'how long a worker owns a partition without renewing; a crashed worker is replaced after this',
  },
  workerPollMs: {
    area: 'Workers',
    env: 'WORKER_POLL_MS',
    default: 100,
    parse: integer(1, 60000),
    description: 'idle poll interval of a worker',
  },
  stallAfterMs: {
    area: 'Workers',
    env: 'STALL_AFTER_MS',
    default: 60000,
    parse: integer(0, 86400000),
    description:
      "how long a partition's committed offset may stand still while events wait before it is reported stalled; 0 = never",
  },
  retryBaseMs: {
    area: 'Retries',
    env: 'RETRY_BASE_MS',
    default: 2000,
    parse: integer(0, 3600000),
    description: 'first retry delay cap; doubles per attempt (full jitter)',
  },
  retryMaxMs: {
    area: 'Retries',
    env: 'RETRY_MAX_MS',
    default: 60000,
    parse: integer(0, 86400000),
    description: 'largest retry delay',
  },
  retryMaxAttempts: {
    area: 'Retries',
    env: 'RETRY_MAX_ATTEMPTS',
    default: 3,
    parse: integer(0, 100),
    description: 'retries of a transiently failing event before it is dead-lettered',
  },
  maxBodyBytes: {
    area: 'Limits',
    env: 'MAX_BODY_BYTES',
    default: 1048576,
    parse: integer(1024, 104857600),
    description: 'largest request body; larger gets 413',
  },
  batchMaxEvents: {
    area: 'Limits',
    env: 'BATCH_MAX_EVENTS',
    default: 1000,
    parse: integer(1, 100000),
    description: 'most events in one batch request',
  },
  requestTimeoutMs: {
    area: 'Limits',
    env: 'REQUEST_TIMEOUT_MS',
    default: 30000,
    parse: integer(0, 600000),
    description: 'longest time to receive a whole request',
  },
  maxJsonDepth: {
    area: 'Limits',
    env: 'MAX_JSON_DEPTH',
    default: 32,
    parse: integer(2, 1000),
    description: 'deepest nesting of objects and arrays accepted in a body',
  },
  overloadEventLoopDelayMs: {
    area: 'Limits',
    env: 'OVERLOAD_EVENT_LOOP_DELAY_MS',
    default: 1000,
    parse: integer(0, 60000),
    description: 'event-loop delay beyond which the API answers 503 + Retry-After; 0 = off',
  },
  overloadPendingEvents: {
    area: 'Limits',
    env: 'OVERLOAD_PENDING_EVENTS',
    default: 100000,
    parse: integer(0, 100000000),
    description: 'events waiting for a commit beyond which the API answers 503; 0 = off',
  },
  auth: {
    area: 'Authentication',
    env: 'AUTH',
    default: 'auto',
    parse: oneOf('auto', 'required', 'disabled'),
    description: 'API keys: auto = required unless HOST is a loopback address',
  },
  adminApiKey: {
    area: 'Authentication',
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
    area: 'Authentication',
    env: 'RATE_LIMIT_PER_MINUTE',
    default: 60000,
    parse: integer(0, 100000000),
    description: 'requests per minute per API key (or address) when auth is on; 0 = no limit',
  },
  agentsEnabled: {
    area: 'Agents and LLM',
    env: 'AGENTS_ENABLED',
    default: true,
    parse: booleanFlag,
    description: 'run the chemistry agent on chemical events (with the worker role)',
  },
  agentsReenrichIntervalMs: {
    area: 'Agents and LLM',
    env: 'AGENTS_REENRICH_INTERVAL_MS',
    default: 60000,
    parse: integer(0, 86400000),
    description: 'how often fallback answers are sent to the LLM again; 0 = never',
  },
  llmBaseUrl: {
    area: 'Agents and LLM',
    env: 'LLM_BASE_URL',
    default: undefined,
    parse: optionalHttpUrl,
    description:
      'OpenAI-compatible API base, e.g. https://api.openai.com/v1; unset = offline agent only',
  },
  llmApiKey: {
    area: 'Agents and LLM',
    env: 'LLM_API_KEY',
    default: undefined,
    parse: optionalText,
    description: 'bearer token for LLM_BASE_URL (none for local servers)',
    secret: true,
  },
  llmModel: {
    area: 'Agents and LLM',
    env: 'LLM_MODEL',
    default: 'gpt-4o-mini',
    parse: text,
    description: 'model name sent to LLM_BASE_URL',
  },
  llmTimeoutMs: {
    area: 'Agents and LLM',
    env: 'LLM_TIMEOUT_MS',
    default: 30000,
    parse: integer(10, 600000),
    description: 'timeout of one LLM call',
  },
  llmRequestsPerMinute: {
    area: 'Agents and LLM',
    env: 'LLM_REQUESTS_PER_MINUTE',
    default: 60,
    parse: integer(1, 1000000),
    description: 'client-side limit on LLM requests per minute (bursts of one second of them)',
  },
  llmTokensPerMinute: {
    area: 'Agents and LLM',
    env: 'LLM_TOKENS_PER_MINUTE',
    default: 100000,
    parse: integer(100, 100000000),
    description: 'client-side limit on LLM tokens per minute (estimated before, counted after)',
  },
  llmConcurrency: {
    area: 'Agents and LLM',
    env: 'LLM_CONCURRENCY',
    default: 2,
    parse: integer(1, 256),
    description: 'LLM calls in flight at once',
  },
  llmMaxRetries: {
    area: 'Agents and LLM',
    env: 'LLM_MAX_RETRIES',
    default: 3,
    parse: integer(0, 20),
    description: 'retries of an LLM call after a 429, 5xx, timeout or network error',
  },
  llmRetryBaseMs: {
    area: 'Agents and LLM',
    env: 'LLM_RETRY_BASE_MS',
    default: 1000,
    parse: integer(0, 3600000),
    description: 'first LLM retry delay cap; doubles per attempt (full jitter)',
  },
  llmRetryMaxMs: {
    area: 'Agents and LLM',
    env: 'LLM_RETRY_MAX_MS',
    default: 30000,
    parse: integer(0, 3600000),
    description: 'largest LLM retry delay',
  },
  llmMaxWaitMs: {
    area: 'Agents and LLM',
    env: 'LLM_MAX_WAIT_MS',
    default: 60000,
    parse: integer(0, 3600000),
    description:
      'longest an event waits for rate limits and retries before the offline agent answers',
  },
  llmBreakerFailures: {
    area: 'Agents and LLM',
    env: 'LLM_BREAKER_FAILURES',
    default: 5,
    parse: integer(1, 1000),
    description: 'consecutive failed LLM calls that open the circuit breaker',
  },
  llmBreakerCooldownMs: {
    area: 'Agents and LLM',
    env: 'LLM_BREAKER_COOLDOWN_MS',
    default: 30000,
    parse: integer(10, 3600000),
    description: 'how long an open circuit refuses LLM calls before one trial call',
  },
  analyticsSealIntervalMs: {
    area: 'Analytics',
    env: 'ANALYTICS_SEAL_INTERVAL_MS',
    default: 60000,
    parse: integer(0, 86400000),
    description:
      'how often a worker packs closed hours for fast funnels (back to back while behind); 0 = never',
  },
  adminEmail: {
    area: 'Users',
    env: 'ADMIN_EMAIL',
    default: undefined,
    parse: optionalText,
    description: 'email of an admin user created at API start if missing',
  },
  adminPassword: {
    area: 'Users',
    env: 'ADMIN_PASSWORD',
    default: undefined,
    parse: optionalText,
    description: 'password of the ADMIN_EMAIL user (at least 8 characters)',
    secret: true,
  },
  usersOpenRegistration: {
    area: 'Users',
    env: 'USERS_OPEN_REGISTRATION',
    default: true,
    parse: booleanFlag,
    description:
      'anyone may create a user (role user or guest) with POST /users/; false = admins only',
  },
  sessionTtlMs: {
    area: 'Users',
    env: 'SESSION_TTL_MS',
    default: 86400000,
    parse: integer(1000, 31536000000),
    description: 'lifetime of a login session',
  },
  loginFreeFailures: {
    area: 'Users',
    env: 'LOGIN_FREE_FAILURES',
    default: 3,
    parse: integer(1, 1000),
    description: 'failed logins of one address on one account before its further attempts wait',
  },
  loginAccountFreeFailures: {
    area: 'Users',
    env: 'LOGIN_ACCOUNT_FREE_FAILURES',
    default: 10,
    parse: integer(1, 100000),
    description:
      'failed logins on one account, each address counting at most LOGIN_FREE_FAILURES, before ' +
      'attempts on it wait (except from an address it logged in from)',
  },
  loginDelayBaseMs: {
    area: 'Users',
    env: 'LOGIN_DELAY_BASE_MS',
    default: 1000,
    parse: integer(1, 3600000),
    description: 'the first wait after the free failures; each further failure doubles it',
  },
  loginDelayMaxMs: {
    area: 'Users',
    env: 'LOGIN_DELAY_MAX_MS',
    default: 900000,
    parse: integer(1, 86400000),
    description: 'the longest wait between login attempts',
  },
  loginWindowMs: {
    area: 'Users',
    env: 'LOGIN_WINDOW_MS',
    default: 86400000,
    parse: integer(1000, 604800000),
    description: 'how long a failed login counts',
  },
  loginTrustedAddressMs: {
    area: 'Users',
    env: 'LOGIN_TRUSTED_ADDRESS_MS',
    default: 2592000000,
    parse: integer(0, 31536000000),
    description:
      'an address an account logged in from within this is exempt from the account-wide wait',
  },
  outboxPollMs: {
    area: 'Users',
    env: 'OUTBOX_POLL_MS',
    default: 200,
    parse: integer(1, 60000),
    description: 'how often the outbox relay looks for unpublished user events',
  },
  notificationsEnabled: {
    area: 'Notifications',
    env: 'NOTIFICATIONS_ENABLED',
    default: true,
    parse: booleanFlag,
    description: 'run the notification consumer and dispatcher (with the worker role)',
  },
  notifyTopics: {
    area: 'Notifications',
    env: 'NOTIFY_TOPICS',
    default: [],
    parse: list,
    description:
      'more topics (comma-separated) whose events go to webhook subscribers, besides users',
  },
  emailTransport: {
    area: 'Notifications',
    env: 'EMAIL_TRANSPORT',
    default: 'auto',
    parse: oneOf('auto', 'smtp', 'sendgrid', 'log'),
    description:
      'auto = smtp if SMTP_URL, sendgrid if SENDGRID_API_KEY, else log (emails are logged, not sent)',
  },
  emailFrom: {
    area: 'Notifications',
    env: 'EMAIL_FROM',
    default: 'Herald <no-reply@herald.local>',
    parse: text,
    description: 'From address of emails',
  },
  smtpUrl: {
    area: 'Notifications',
    env: 'SMTP_URL',
    default: undefined,
    parse: smtpUrl,
    description: 'SMTP server, e.g. smtp://user:pass@mail.example.com:587',
    secret: true,
  },
  sendgridApiKey: {
    area: 'Notifications',
    env: 'SENDGRID_API_KEY',
    default: undefined,
    parse: optionalText,
    description: 'SendGrid (or compatible) API key',
    secret: true,
  },
  sendgridBaseUrl: {
    area: 'Notifications',
    env: 'SENDGRID_BASE_URL',
    default: 'https://api.sendgrid.com',
    parse: httpUrl,
    description: 'SendGrid-compatible API base',
  },
  twilioAccountSid: {
    area: 'Notifications',
    env: 'TWILIO_ACCOUNT_SID',
    default: undefined,
    parse: optionalText,
    description: 'Twilio account SID; SMS are sent when set',
  },
  twilioAuthToken: {
    area: 'Notifications',
    env: 'TWILIO_AUTH_TOKEN',
    default: undefined,
    parse: optionalText,
    description: 'Twilio auth token',
    secret: true,
  },
  twilioFrom: {
    area: 'Notifications',
    env: 'TWILIO_FROM',
    default: undefined,
    parse: optionalText,
    description: 'sender number of SMS (E.164)',
  },
  twilioBaseUrl: {
    area: 'Notifications',
    env: 'TWILIO_BASE_URL',
    default: 'https://api.twilio.com',
    parse: httpUrl,
    description: 'Twilio-compatible API base',
  },
  vapidPublicKey: {
    area: 'Notifications',
    env: 'VAPID_PUBLIC_KEY',
    default: undefined,
    parse: optionalText,
    description: 'Web Push VAPID public key; push is sent when both keys are set',
  },
  vapidPrivateKey: {
    area: 'Notifications',
    env: 'VAPID_PRIVATE_KEY',
    default: undefined,
    parse: optionalText,
    description: 'Web Push VAPID private key',
    secret: true,
  },
  vapidSubject: {
    area: 'Notifications',
    env: 'VAPID_SUBJECT',
    default: 'mailto:admin@herald.local',
    parse: text,
    description: 'VAPID contact (mailto: or https: URL)',
  },
  notifyPollMs: {
    area: 'Notifications',
    env: 'NOTIFY_POLL_MS',
    default: 500,
    parse: integer(1, 60000),
    description: 'how often the dispatcher looks for due deliveries',
  },
  notifyTimeoutMs: {
    area: 'Notifications',
    env: 'NOTIFY_TIMEOUT_MS',
    default: 10000,
    parse: integer(10, 600000),
    description: 'timeout of one delivery attempt (HTTP or SMTP)',
  },
  notifyLeaseMs: {
    area: 'Notifications',
    env: 'NOTIFY_LEASE_MS',
    default: 60000,
    parse: integer(100, 3600000),
    description: 'a delivery being sent by a process that died is retried after this',
  },
  notifyRetryBaseMs: {
    area: 'Notifications',
    env: 'NOTIFY_RETRY_BASE_MS',
    default: 30000,
    parse: integer(0, 86400000),
    description: 'first delivery retry delay; doubles per attempt, with jitter',
  },
  notifyRetryMaxMs: {
    area: 'Notifications',
    env: 'NOTIFY_RETRY_MAX_MS',
    default: 14400000,
    parse: integer(0, 86400000),
    description: 'largest delivery retry delay',
  },
  notifyMaxAttempts: {
    area: 'Notifications',
    env: 'NOTIFY_MAX_ATTEMPTS',
    default: 12,
    parse: integer(1, 100),
    description:
      'attempts of a delivery before it fails for good (the defaults retry for 6 to 12 hours)',
  },
  webhookDisableAfterFailures: {
    area: 'Notifications',
    env: 'WEBHOOK_DISABLE_AFTER_FAILURES',
    default: 20,
    parse: integer(1, 100000),
    description: 'consecutive failures (with WEBHOOK_DISABLE_AFTER_MS) that disable an endpoint',
  },
  webhookDisableAfterMs: {
    area: 'Notifications',
    env: 'WEBHOOK_DISABLE_AFTER_MS',
    default: 172800000,
    parse: integer(0, 31536000000),
    description: 'how long an endpoint must have failed without a success before it is disabled',
  },
  webhookSecretRotationMs: {
    area: 'Notifications',
    env: 'WEBHOOK_SECRET_ROTATION_MS',
    default: 86400000,
    parse: integer(0, 31536000000),
    description:
      'after a secret rotation, how long messages are also signed with the previous secret',
  },
  webhookAllowPrivateTargets: {
    area: 'Notifications',
    env: 'WEBHOOK_ALLOW_PRIVATE_TARGETS',
    default: [],
    parse: list,
    description:
      'private or loopback addresses/CIDRs webhooks may target (e.g. 127.0.0.1); none by default',
  },
  schemasRequired: {
    area: 'Event contracts',
    env: 'SCHEMAS_REQUIRED',
    default: false,
    parse: booleanFlag,
    description: 'refuse (422) analytics and EventFlow events whose type has no registered schema',
  },
  schemasPollMs: {
    area: 'Event contracts',
    env: 'SCHEMAS_POLL_MS',
    default: 1000,
    parse: integer(50, 60000),
    description:
      'how often a process checks the schema registry for changes made elsewhere (besides LISTEN/NOTIFY): the bound on how long a change takes to apply everywhere',
  },
  logRetentionMs: {
    area: 'Log over time',
    env: 'LOG_RETENTION',
    default: undefined,
    parse: retention(1000),
    description:
      'how long the event log keeps events (7d, 12h …), dropped a segment at a time and never before every consumer group committed them; keep = forever',
  },
  logSegmentMs: {
    area: 'Log over time',
    env: 'LOG_SEGMENT',
    default: 86_400_000,
    parse: duration(1000, 365 * 86_400_000),
    description:
      'how much time one segment of the Postgres event log covers (the unit retention drops whole; Kafka segment.ms)',
  },
  dedupeWindowMs: {
    area: 'Log over time',
    env: 'DEDUPE_WINDOW',
    default: 86_400_000,
    parse: duration(1000, 365 * 86_400_000),
    description:
      'an event id sent again within this time of its acceptance is a duplicate (stored once, answered duplicate: true) on every broker; past it, the id is accepted as new',
  },
  historyRetentionMs: {
    area: 'Log over time',
    env: 'HISTORY_RETENTION',
    default: undefined,
    parse: retention(60_000),
    description:
      'how long retry records (retrying, replayed, purged failures) and finished notification deliveries with their attempts are kept; keep = forever',
  },
  deadLetterRetentionMs: {
    area: 'Log over time',
    env: 'DEAD_LETTER_RETENTION',
    default: undefined,
    parse: retention(60_000),
    description:
      'how long dead letters are kept after their last failure; keep = until replayed or purged',
  },
  processedRetentionMs: {
    area: 'Log over time',
    env: 'PROCESSED_RETENTION',
    default: undefined,
    parse: retention(60_000),
    description:
      'how long processed events are kept (the analytics rollups always stay); keep = forever',
  },
  retentionIntervalMs: {
    area: 'Log over time',
    env: 'RETENTION_INTERVAL',
    default: 60_000,
    parse: duration(100, 86_400_000),
    description:
      'how often a worker rolls log segments, applies the retention settings and clears the expired dedupe window (one worker at a time)',
  },
  replayPollMs: {
    area: 'Log over time',
    env: 'REPLAY_POLL_MS',
    default: 1000,
    parse: integer(10, 60000),
    description: 'how often a worker looks for replays to run',
  },
};

export const configSettings = Object.entries(settings).map(([key, declared]) => ({
  key,
  ...declared,
})) as Setting<keyof Config>[];

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
  const full = config as Config;
  if (full.broker === 'redis' && full.redisUrl === undefined) {
    throw invalid('REDIS_URL', 'is required when BROKER=redis');
  }
  if (full.broker === 'kafka' && full.kafkaBrokers.length === 0) {
    throw invalid('KAFKA_BROKERS', 'is required when BROKER=kafka');
  }
  return full;
}

/**
 * The settings that go together for a process running `roles` (the platform checks them
 * before it opens anything): separate API and worker processes need a PostgreSQL server,
 * the API's admin user needs both ADMIN_EMAIL and ADMIN_PASSWORD, and the worker's
 * notification senders need what their provider needs. They depend on the roles, so
 * loadConfig, which every command runs (`herald migrate`, `herald config` …), leaves them.
 */
export function checkSettings(config: Config, roles: { api: boolean; worker: boolean }): void {
  if (config.databaseUrl === undefined && !(roles.api && roles.worker)) {
    throw invalid(
      'DATABASE_URL',
      'separate api and worker processes need a PostgreSQL server; the embedded ' +
        'database serves one process (use `herald start`)',
    );
  }
  if (roles.api && (config.adminEmail === undefined) !== (config.adminPassword === undefined)) {
    const missing = config.adminEmail === undefined ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD';
    throw invalid(missing, 'ADMIN_EMAIL and ADMIN_PASSWORD are set together');
  }
  if (roles.worker && config.notificationsEnabled) checkNotificationSettings(config);
}

/** What the configured notification providers need: fails naming the first missing setting. */
export function checkNotificationSettings(config: Config): void {
  const required = (setting: string, because: string) => invalid(setting, `required by ${because}`);
  if (config.emailTransport === 'smtp' && config.smtpUrl === undefined) {
    throw required('SMTP_URL', 'EMAIL_TRANSPORT=smtp');
  }
  if (config.emailTransport === 'sendgrid' && config.sendgridApiKey === undefined) {
    throw required('SENDGRID_API_KEY', 'EMAIL_TRANSPORT=sendgrid');
  }
  if (config.twilioAccountSid !== undefined) {
    if (config.twilioAuthToken === undefined)
      throw required('TWILIO_AUTH_TOKEN', 'TWILIO_ACCOUNT_SID');
    if (config.twilioFrom === undefined) throw required('TWILIO_FROM', 'TWILIO_ACCOUNT_SID');
  }
  if ((config.vapidPublicKey === undefined) !== (config.vapidPrivateKey === undefined)) {
    throw required('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY', 'each other');
  }
}

function masked(setting: Setting<keyof Config>, value: unknown): unknown {
  if (!setting.secret || typeof value !== 'string') return value;
  return value.includes('://') ? value.replace(/:[^:@/]*@/, ':***@') : '***';
}

/**
 * The configuration as it is safe to log: secrets and URL passwords masked. A setting that is
 * not set is left out, so that nothing reads as a hidden value when there is none.
 */
export function redactConfig(config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const setting of configSettings) {
    const value = config[setting.key];
    if (value !== undefined) shown[setting.key] = masked(setting, value);
  }
  return shown;
}

/**
 * What differs from the defaults, by environment variable, secrets masked: the start log's
 * short configuration line (`herald config` prints the whole one).
 *
 * @example
 * configChanges(loadConfig({ PORT: '9000' })) // { PORT: 9000 }
 */
export function configChanges(config: Config): Record<string, unknown> {
  const changed: Record<string, unknown> = {};
  for (const setting of configSettings) {
    const value = config[setting.key];
    if (JSON.stringify(value) === JSON.stringify(setting.default)) continue;
    changed[setting.env] = value === undefined ? null : masked(setting, value);
  }
  return changed;
}
