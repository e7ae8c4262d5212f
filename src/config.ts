/**
 * One typed configuration, read once at the edge from environment variables and command-line
 * flags (a flag `--worker-batch-size 200` overrides `WORKER_BATCH_SIZE`). Invalid values fail
 * at start with an error naming the variable.
 */
import { formatDuration, parseDuration } from './domain/durations.ts';
import { ErrorCodes, HeraldError } from './errors.ts';

export interface Config {
  port: number;
  host: string;
  opsPort: number;
  dataDir: string;
  embeddedDatabaseUser: string;
  readPort: number | undefined;
  databaseUrl: string | undefined;
  databaseSchema: string;
  databasePoolSize: number;
  broker: 'postgres' | 'redis' | 'kafka';
  redisUrl: string | undefined;
  kafkaBrokers: string[];
  kafkaSessionTimeoutMs: number;
  kafkaReplicationFactor: number;
  brokerNamespace: string;
  queuePartitions: number;
  workerConcurrency: number;
  workerBatchSize: number;
  workerLeaseMs: number;
  workerPollMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  retryMaxAttempts: number;
  stallAfterMs: number;
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
  analyticsSealIntervalMs: number;
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
  schemasRequired: boolean;
  schemasPollMs: number;
  /** Log retention (issue #20); undefined = keep everything. */
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
  opsPort: {
    key: 'opsPort',
    env: 'OPS_PORT',
    default: 9464,
    parse: integer(0, 65535),
    description:
      'port of /health/live, /health/ready and /metrics of a process without the API (herald worker); 0 = a free port',
  },
  dataDir: {
    key: 'dataDir',
    env: 'DATA_DIR',
    default: './data',
    parse: text,
    description:
      'where the embedded PostgreSQL (no DATABASE_URL) keeps its cluster, log and lock; memory:// keeps nothing',
  },
  embeddedDatabaseUser: {
    key: 'embeddedDatabaseUser',
    env: 'EMBEDDED_DATABASE_USER',
    default: 'postgres',
    parse: text,
    description:
      'the unprivileged OS user the embedded PostgreSQL runs as when herald runs as root (PostgreSQL refuses root)',
  },
  readPort: {
    key: 'readPort',
    env: 'READ_PORT',
    default: 8001,
    parse: (raw, name) => {
      if (/^(|off|false|no)$/i.test(raw.trim())) return undefined;
      return integer(0, 65535)(raw, name);
    },
    description:
      'a second API port serving the read routes (analytics, event lookups, docs, health) on HOST; off = none; skipped with a warning when taken',
  },
  databaseUrl: {
    key: 'databaseUrl',
    env: 'DATABASE_URL',
    default: undefined,
    parse: optionalUrl,
    description: 'PostgreSQL server URL; unset = a PostgreSQL Herald runs itself, in DATA_DIR',
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
    parse: oneOf('postgres', 'redis', 'kafka'),
    description: 'transport between API and workers: postgres (the event log), redis or kafka',
  },
  redisUrl: {
    key: 'redisUrl',
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
    key: 'kafkaBrokers',
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
    key: 'kafkaSessionTimeoutMs',
    env: 'KAFKA_SESSION_TIMEOUT_MS',
    default: 10000,
    parse: integer(6000, 300000),
    description: "how soon Kafka gives a crashed worker's partitions to another",
  },
  kafkaReplicationFactor: {
    key: 'kafkaReplicationFactor',
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
    key: 'brokerNamespace',
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
    key: 'queuePartitions',
    env: 'QUEUE_PARTITIONS',
    default: 8,
    parse: integer(1, 1024),
    description:
      'partitions of the event log (postgres), of each topic (kafka) or streams per topic (redis), fixed at creation',
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
  stallAfterMs: {
    key: 'stallAfterMs',
    env: 'STALL_AFTER_MS',
    default: 60000,
    parse: integer(0, 86400000),
    description:
      "how long a partition's committed offset may stand still while events wait before it is reported stalled; 0 = never",
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
  analyticsSealIntervalMs: {
    key: 'analyticsSealIntervalMs',
    env: 'ANALYTICS_SEAL_INTERVAL_MS',
    default: 60000,
    parse: integer(0, 86400000),
    description:
      'how often a worker packs closed hours for fast funnels (back to back while behind); 0 = never',
  },
  ...userAndNotificationSettings(),
  ...logOverTimeSettings(),
};

// Users and notifications (issue 7).
function userAndNotificationSettings() {
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
  const s = <K extends keyof Config>(
    key: K,
    env: string,
    value: Config[K],
    parse: Parser<Config[K]>,
    description: string,
    secret = false,
  ): Setting<K> => ({ key, env, default: value, parse, description, secret });
  return {
    adminEmail: s(
      'adminEmail',
      'ADMIN_EMAIL',
      undefined,
      optionalText,
      'email of an admin user created at API start if missing',
    ),
    adminPassword: s(
      'adminPassword',
      'ADMIN_PASSWORD',
      undefined,
      optionalText,
      'password of the ADMIN_EMAIL user (at least 8 characters)',
      true,
    ),
    usersOpenRegistration: s(
      'usersOpenRegistration',
      'USERS_OPEN_REGISTRATION',
      true,
      booleanFlag,
      'anyone may create a user (role user or guest) with POST /users/; false = admins only',
    ),
    sessionTtlMs: s(
      'sessionTtlMs',
      'SESSION_TTL_MS',
      86400000,
      integer(1000, 31536000000),
      'lifetime of a login session',
    ),
    loginFreeFailures: s(
      'loginFreeFailures',
      'LOGIN_FREE_FAILURES',
      3,
      integer(1, 1000),
      'failed logins of one address on one account before its further attempts wait',
    ),
    loginAccountFreeFailures: s(
      'loginAccountFreeFailures',
      'LOGIN_ACCOUNT_FREE_FAILURES',
      10,
      integer(1, 100000),
      'failed logins on one account, each address counting at most LOGIN_FREE_FAILURES, before ' +
        'attempts on it wait (except from an address it logged in from)',
    ),
    loginDelayBaseMs: s(
      'loginDelayBaseMs',
      'LOGIN_DELAY_BASE_MS',
      1000,
      integer(1, 3600000),
      'the first wait after the free failures; each further failure doubles it',
    ),
    loginDelayMaxMs: s(
      'loginDelayMaxMs',
      'LOGIN_DELAY_MAX_MS',
      900000,
      integer(1, 86400000),
      'the longest wait between login attempts',
    ),
    loginWindowMs: s(
      'loginWindowMs',
      'LOGIN_WINDOW_MS',
      86400000,
      integer(1000, 604800000),
      'how long a failed login counts',
    ),
    loginTrustedAddressMs: s(
      'loginTrustedAddressMs',
      'LOGIN_TRUSTED_ADDRESS_MS',
      2592000000,
      integer(0, 31536000000),
      'an address an account logged in from within this is exempt from the account-wide wait',
    ),
    outboxPollMs: s(
      'outboxPollMs',
      'OUTBOX_POLL_MS',
      200,
      integer(1, 60000),
      'how often the outbox relay looks for unpublished user events',
    ),
    notificationsEnabled: s(
      'notificationsEnabled',
      'NOTIFICATIONS_ENABLED',
      true,
      booleanFlag,
      'run the notification consumer and dispatcher (with the worker role)',
    ),
    notifyTopics: s(
      'notifyTopics',
      'NOTIFY_TOPICS',
      [],
      list,
      'more topics (comma-separated) whose events go to webhook subscribers, besides users',
    ),
    emailTransport: s(
      'emailTransport',
      'EMAIL_TRANSPORT',
      'auto',
      oneOf('auto', 'smtp', 'sendgrid', 'log'),
      'auto = smtp if SMTP_URL, sendgrid if SENDGRID_API_KEY, else log (emails are logged, not sent)',
    ),
    emailFrom: s(
      'emailFrom',
      'EMAIL_FROM',
      'Herald <no-reply@herald.local>',
      text,
      'From address of emails',
    ),
    smtpUrl: s(
      'smtpUrl',
      'SMTP_URL',
      undefined,
      smtpUrl,
      'SMTP server, e.g. smtp://user:pass@mail.example.com:587',
      true,
    ),
    sendgridApiKey: s(
      'sendgridApiKey',
      'SENDGRID_API_KEY',
      undefined,
      optionalText,
      'SendGrid (or compatible) API key',
      true,
    ),
    sendgridBaseUrl: s(
      'sendgridBaseUrl',
      'SENDGRID_BASE_URL',
      'https://api.sendgrid.com',
      httpUrl,
      'SendGrid-compatible API base',
    ),
    twilioAccountSid: s(
      'twilioAccountSid',
      'TWILIO_ACCOUNT_SID',
      undefined,
      optionalText,
      'Twilio account SID; SMS are sent when set',
    ),
    twilioAuthToken: s(
      'twilioAuthToken',
      'TWILIO_AUTH_TOKEN',
      undefined,
      optionalText,
      'Twilio auth token',
      true,
    ),
    twilioFrom: s(
      'twilioFrom',
      'TWILIO_FROM',
      undefined,
      optionalText,
      'sender number of SMS (E.164)',
    ),
    twilioBaseUrl: s(
      'twilioBaseUrl',
      'TWILIO_BASE_URL',
      'https://api.twilio.com',
      httpUrl,
      'Twilio-compatible API base',
    ),
    vapidPublicKey: s(
      'vapidPublicKey',
      'VAPID_PUBLIC_KEY',
      undefined,
      optionalText,
      'Web Push VAPID public key; push is sent when both keys are set',
    ),
    vapidPrivateKey: s(
      'vapidPrivateKey',
      'VAPID_PRIVATE_KEY',
      undefined,
      optionalText,
      'Web Push VAPID private key',
      true,
    ),
    vapidSubject: s(
      'vapidSubject',
      'VAPID_SUBJECT',
      'mailto:admin@herald.local',
      text,
      'VAPID contact (mailto: or https: URL)',
    ),
    notifyPollMs: s(
      'notifyPollMs',
      'NOTIFY_POLL_MS',
      500,
      integer(1, 60000),
      'how often the dispatcher looks for due deliveries',
    ),
    notifyTimeoutMs: s(
      'notifyTimeoutMs',
      'NOTIFY_TIMEOUT_MS',
      10000,
      integer(10, 600000),
      'timeout of one delivery attempt (HTTP or SMTP)',
    ),
    notifyLeaseMs: s(
      'notifyLeaseMs',
      'NOTIFY_LEASE_MS',
      60000,
      integer(100, 3600000),
      'a delivery being sent by a process that died is retried after this',
    ),
    notifyRetryBaseMs: s(
      'notifyRetryBaseMs',
      'NOTIFY_RETRY_BASE_MS',
      30000,
      integer(0, 86400000),
      'first delivery retry delay; doubles per attempt, with jitter',
    ),
    notifyRetryMaxMs: s(
      'notifyRetryMaxMs',
      'NOTIFY_RETRY_MAX_MS',
      14400000,
      integer(0, 86400000),
      'largest delivery retry delay',
    ),
    notifyMaxAttempts: s(
      'notifyMaxAttempts',
      'NOTIFY_MAX_ATTEMPTS',
      12,
      integer(1, 100),
      'attempts of a delivery before it fails for good (the defaults retry for 6 to 12 hours)',
    ),
    webhookDisableAfterFailures: s(
      'webhookDisableAfterFailures',
      'WEBHOOK_DISABLE_AFTER_FAILURES',
      20,
      integer(1, 100000),
      'consecutive failures (with WEBHOOK_DISABLE_AFTER_MS) that disable an endpoint',
    ),
    webhookDisableAfterMs: s(
      'webhookDisableAfterMs',
      'WEBHOOK_DISABLE_AFTER_MS',
      172800000,
      integer(0, 31536000000),
      'how long an endpoint must have failed without a success before it is disabled',
    ),
    webhookSecretRotationMs: s(
      'webhookSecretRotationMs',
      'WEBHOOK_SECRET_ROTATION_MS',
      86400000,
      integer(0, 31536000000),
      'after a secret rotation, how long messages are also signed with the previous secret',
    ),
    webhookAllowPrivateTargets: s(
      'webhookAllowPrivateTargets',
      'WEBHOOK_ALLOW_PRIVATE_TARGETS',
      [],
      list,
      'private or loopback addresses/CIDRs webhooks may target (e.g. 127.0.0.1); none by default',
    ),
    // Event contracts (issue #21).
    schemasRequired: s(
      'schemasRequired',
      'SCHEMAS_REQUIRED',
      false,
      booleanFlag,
      'refuse (422) analytics and EventFlow events whose type has no registered schema',
    ),
    schemasPollMs: s(
      'schemasPollMs',
      'SCHEMAS_POLL_MS',
      1000,
      integer(50, 60000),
      'how often a process checks the schema registry for changes made elsewhere (besides LISTEN/NOTIFY): the bound on how long a change takes to apply everywhere',
    ),
  };
}

// The log over time (issue #20): retention, the dedupe window, replays. Durations are written
// 7d, 12h, 30m, 45s or as milliseconds; a retention of `keep` keeps everything.
function logOverTimeSettings() {
  const duration =
    (min: number, max: number): Parser<number> =>
    (raw, name) => {
      const ms = parseDuration(raw);
      if (ms === undefined) {
        throw invalid(name, `expected a duration such as 7d, 12h, 30m, 45s or ms, got "${raw}"`);
      }
      if (ms < min || ms > max) {
        throw invalid(name, `must be between ${formatDuration(min)} and ${formatDuration(max)}`);
      }
      return ms;
    };
  const retention = (min: number): Parser<number | undefined> => {
    const parse = duration(min, 3650 * 86_400_000);
    return (raw, name) => (/^(keep|forever)$/i.test(raw.trim()) ? undefined : parse(raw, name));
  };
  const s = <K extends keyof Config>(
    key: K,
    env: string,
    value: Config[K],
    parse: Parser<Config[K]>,
    description: string,
  ): Setting<K> => ({ key, env, default: value, parse, description });
  return {
    logRetentionMs: s(
      'logRetentionMs',
      'LOG_RETENTION',
      undefined,
      retention(1000),
      'how long the event log keeps events (7d, 12h …), dropped a segment at a time and never before every consumer group committed them; keep = forever',
    ),
    logSegmentMs: s(
      'logSegmentMs',
      'LOG_SEGMENT',
      86_400_000,
      duration(1000, 365 * 86_400_000),
      'how much time one segment of the Postgres event log covers (the unit retention drops whole; Kafka segment.ms)',
    ),
    dedupeWindowMs: s(
      'dedupeWindowMs',
      'DEDUPE_WINDOW',
      86_400_000,
      duration(1000, 365 * 86_400_000),
      'an event id sent again within this time of its acceptance is a duplicate (stored once, answered duplicate: true) on every broker; past it, the id is accepted as new',
    ),
    historyRetentionMs: s(
      'historyRetentionMs',
      'HISTORY_RETENTION',
      undefined,
      retention(60_000),
      'how long retry records (retrying, replayed, purged failures) and finished notification deliveries with their attempts are kept; keep = forever',
    ),
    deadLetterRetentionMs: s(
      'deadLetterRetentionMs',
      'DEAD_LETTER_RETENTION',
      undefined,
      retention(60_000),
      'how long dead letters are kept after their last failure; keep = until replayed or purged',
    ),
    processedRetentionMs: s(
      'processedRetentionMs',
      'PROCESSED_RETENTION',
      undefined,
      retention(60_000),
      'how long processed events are kept (the analytics rollups always stay); keep = forever',
    ),
    retentionIntervalMs: s(
      'retentionIntervalMs',
      'RETENTION_INTERVAL',
      60_000,
      duration(100, 86_400_000),
      'how often a worker rolls log segments, applies the retention settings and clears the expired dedupe window (one worker at a time)',
    ),
    replayPollMs: s(
      'replayPollMs',
      'REPLAY_POLL_MS',
      1000,
      integer(10, 60000),
      'how often a worker looks for replays to run',
    ),
  };
}

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
  const full = config as Config;
  if (full.broker === 'redis' && full.redisUrl === undefined) {
    throw invalid('REDIS_URL', 'is required when BROKER=redis');
  }
  if (full.broker === 'kafka' && full.kafkaBrokers.length === 0) {
    throw invalid('KAFKA_BROKERS', 'is required when BROKER=kafka');
  }
  return full;
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
