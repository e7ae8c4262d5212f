import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AREAS,
  checkSettings,
  configChanges,
  configSettings,
  loadConfig,
  redactConfig,
} from '../src/config.ts';
import { HeraldError } from '../src/errors.ts';

test('with nothing set, Herald runs on the embedded defaults: port 8000 on 127.0.0.1, a managed PostgreSQL in ./data', () => {
  const config = loadConfig({});
  assert.equal(config.port, 8000);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.dataDir, './data');
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.broker, 'postgres');
  assert.equal(config.retryBaseMs, 2000);
  assert.equal(config.retryMaxAttempts, 3);
});

test('environment variables set values and flags override them', () => {
  const config = loadConfig({ PORT: '9000', WORKER_BATCH_SIZE: '50' }, { PORT: '9100' });
  assert.equal(config.port, 9100);
  assert.equal(config.workerBatchSize, 50);
});

test('an invalid value fails with an error naming the variable', () => {
  for (const [env, value, pattern] of [
    ['PORT', 'eighty', /PORT: expected an integer/],
    ['PORT', '70000', /PORT: must be between 0 and 65535/],
    ['BROKER', 'carrier-pigeon', /BROKER: must be one of/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: must be a postgres/],
    ['DATABASE_SCHEMA', 'Robert"); DROP', /DATABASE_SCHEMA: must be a lower-case SQL identifier/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL/],
  ] as const) {
    assert.throws(
      () => loadConfig({ [env]: value }),
      (error: unknown) =>
        error instanceof HeraldError &&
        error.code === 'HERALD_CONFIG_INVALID' &&
        pattern.test(error.message),
      `${env}=${value}`,
    );
  }
});

test('an unknown flag is refused, named as the user typed it', () => {
  assert.throws(() => loadConfig({}, { PROT: '1' }), /--prot: unknown option/);
});

test('the printed configuration masks the database password', () => {
  const config = loadConfig({ DATABASE_URL: 'postgres://herald:s3cret@db:5432/herald' });
  assert.equal(redactConfig(config).databaseUrl, 'postgres://herald:***@db:5432/herald');
});

test('LLM settings: the offline agent by default, and the API key is never printed', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.llmBaseUrl, undefined);
  assert.equal(defaults.agentsEnabled, true);
  const config = loadConfig({
    LLM_BASE_URL: 'http://127.0.0.1:8080/v1',
    LLM_API_KEY: 'sk-live-abcdef',
    AGENTS_ENABLED: 'false',
  });
  assert.equal(config.llmBaseUrl, 'http://127.0.0.1:8080/v1');
  assert.equal(config.agentsEnabled, false);
  assert.equal(redactConfig(config).llmApiKey, '***');
  assert.throws(() => loadConfig({ LLM_BASE_URL: 'ftp://x' }), /LLM_BASE_URL: must be an http/);
  assert.throws(() => loadConfig({ AGENTS_ENABLED: 'maybe' }), /AGENTS_ENABLED: expected true/);
});

test('BROKER=redis needs REDIS_URL and BROKER=kafka needs KAFKA_BROKERS, each named when missing', () => {
  const fails = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof HeraldError && pattern.test(error.message),
      JSON.stringify(env),
    );
  fails({ BROKER: 'redis' }, /REDIS_URL: is required when BROKER=redis/);
  fails({ BROKER: 'kafka' }, /KAFKA_BROKERS: is required when BROKER=kafka/);
  fails({ BROKER: 'kafka', KAFKA_BROKERS: 'localhost' }, /KAFKA_BROKERS: expected host:port/);
  fails({ REDIS_URL: 'http://x' }, /REDIS_URL: must be a redis:\/\/ URL/);
  fails({ BROKER_NAMESPACE: 'a b' }, /BROKER_NAMESPACE/);
  const kafka = loadConfig({ BROKER: 'kafka', KAFKA_BROKERS: 'k1:9092, k2:9093' });
  assert.deepEqual(kafka.kafkaBrokers, ['k1:9092', 'k2:9093']);
  assert.equal(kafka.brokerNamespace, 'herald');
  const redis = loadConfig({ BROKER: 'redis', REDIS_URL: 'redis://:secret@r:6379' });
  assert.equal(redactConfig(redis).redisUrl, 'redis://:***@r:6379', 'the password is masked');
});

/** Asserts `env` is refused with a configuration error whose message matches `pattern`. */
function refused(env: Record<string, string>, pattern: RegExp): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) =>
      error instanceof HeraldError &&
      error.code === 'HERALD_CONFIG_INVALID' &&
      pattern.test(error.message),
    JSON.stringify(env),
  );
}

test('OPS_PORT: 9464 by default (the Prometheus exporter port), 0 for a free one, refused out of range', () => {
  assert.equal(loadConfig({}).opsPort, 9464);
  assert.equal(loadConfig({ OPS_PORT: '0' }).opsPort, 0);
  assert.equal(loadConfig({}, { OPS_PORT: '9100' }).opsPort, 9100);
  refused({ OPS_PORT: 'metrics' }, /^OPS_PORT: expected an integer, got "metrics"/);
  refused({ OPS_PORT: '65536' }, /^OPS_PORT: must be between 0 and 65535/);
});

test("KAFKA_REPLICATION_FACTOR: the broker's default (-1) unless set; 0 and negatives are refused", () => {
  assert.equal(loadConfig({}).kafkaReplicationFactor, -1);
  assert.equal(loadConfig({ KAFKA_REPLICATION_FACTOR: '3' }).kafkaReplicationFactor, 3);
  refused({ KAFKA_REPLICATION_FACTOR: '0' }, /^KAFKA_REPLICATION_FACTOR: must be -1 \(the broker/);
  refused({ KAFKA_REPLICATION_FACTOR: '-2' }, /^KAFKA_REPLICATION_FACTOR: must be between -1/);
  refused({ KAFKA_REPLICATION_FACTOR: 'three' }, /^KAFKA_REPLICATION_FACTOR: expected an integer/);
});

test('the start log’s short configuration line: only what differs from the defaults, secrets masked', () => {
  assert.deepEqual(configChanges(loadConfig({})), {}, 'nothing set, nothing shown');
  const config = loadConfig({
    PORT: '9000',
    DATABASE_URL: 'postgres://herald:s3cret@db:5432/herald',
    ADMIN_API_KEY: 'k'.repeat(40),
    NOTIFY_TOPICS: 'orders',
    READ_PORT: 'off',
  });
  assert.deepEqual(configChanges(config), {
    PORT: 9000,
    DATABASE_URL: 'postgres://herald:***@db:5432/herald',
    ADMIN_API_KEY: '***',
    NOTIFY_TOPICS: ['orders'],
    READ_PORT: null,
  });
  assert.deepEqual(configChanges(loadConfig({ PORT: '8000' })), {}, 'a default set explicitly');
});

test('a secret that is not set is left out of the redacted configuration rather than shown masked', () => {
  const shown = redactConfig(loadConfig({}));
  for (const key of ['databaseUrl', 'adminApiKey', 'llmApiKey', 'smtpUrl', 'vapidPrivateKey']) {
    assert.equal(key in shown, false, key);
  }
  assert.equal(shown.dataDir, './data');
});

test('READ_PORT: 8001 by default, 0 for a free one, off (or empty) for none; anything else is refused', () => {
  assert.equal(loadConfig({}).readPort, 8001);
  assert.equal(loadConfig({ READ_PORT: '0' }).readPort, 0);
  assert.equal(loadConfig({ READ_PORT: 'off' }).readPort, undefined);
  assert.equal(loadConfig({ READ_PORT: '' }).readPort, undefined);
  assert.throws(() => loadConfig({ READ_PORT: '70000' }), /READ_PORT: must be between 0 and 65535/);
  assert.throws(() => loadConfig({ READ_PORT: 'eighty' }), /READ_PORT: expected an integer/);
});

test('EMBEDDED_DATABASE_USER: postgres unless set', () => {
  assert.equal(loadConfig({}).embeddedDatabaseUser, 'postgres');
  assert.equal(loadConfig({ EMBEDDED_DATABASE_USER: 'herald' }).embeddedDatabaseUser, 'herald');
});

test('the log over time: retention kept by default, a day per segment, a dedupe window of 24 h; durations as 7d, 12h, 30m or ms', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.logRetentionMs, undefined);
  assert.equal(defaults.logSegmentMs, 86_400_000);
  assert.equal(defaults.dedupeWindowMs, 86_400_000);
  assert.equal(defaults.historyRetentionMs, undefined);
  assert.equal(defaults.deadLetterRetentionMs, undefined);
  assert.equal(defaults.processedRetentionMs, undefined);
  const set = loadConfig({
    LOG_RETENTION: '7d',
    LOG_SEGMENT: '12h',
    DEDUPE_WINDOW: '30m',
    HISTORY_RETENTION: '90000',
    PROCESSED_RETENTION: 'keep',
  });
  assert.equal(set.logRetentionMs, 604_800_000);
  assert.equal(set.logSegmentMs, 43_200_000);
  assert.equal(set.dedupeWindowMs, 1_800_000);
  assert.equal(set.historyRetentionMs, 90_000);
  assert.equal(set.processedRetentionMs, undefined);
  assert.throws(
    () => loadConfig({ LOG_RETENTION: 'a week' }),
    /^HeraldError: LOG_RETENTION: expected a duration/,
  );
  assert.throws(() => loadConfig({ DEDUPE_WINDOW: 'keep' }), /DEDUPE_WINDOW: expected a duration/);
  assert.throws(
    () => loadConfig({ DEDUPE_WINDOW: '10ms' }),
    /DEDUPE_WINDOW: must be between 1s and/,
  );
});

test('settings that go together are checked for the roles that use them, naming the missing one', () => {
  const both = { api: true, worker: true };
  const refusedFor = (env: Record<string, string>, roles: typeof both, pattern: RegExp) =>
    assert.throws(
      () => checkSettings(loadConfig(env), roles),
      (error: unknown) =>
        error instanceof HeraldError &&
        error.code === 'HERALD_CONFIG_INVALID' &&
        pattern.test(error.message),
      `${JSON.stringify(env)} ${JSON.stringify(roles)}`,
    );
  const server = { DATABASE_URL: 'postgres://db/herald' };
  // The embedded database serves one process: both roles in it.
  checkSettings(loadConfig({}), both);
  refusedFor({}, { api: false, worker: true }, /^DATABASE_URL: separate api and worker/);
  refusedFor({}, { api: true, worker: false }, /^DATABASE_URL: separate api and worker/);
  // The admin user is the API's; a worker does not read it.
  refusedFor({ ...server, ADMIN_EMAIL: 'a@b.c' }, both, /^ADMIN_PASSWORD: ADMIN_EMAIL and/);
  refusedFor({ ...server, ADMIN_PASSWORD: 'long enough' }, both, /^ADMIN_EMAIL: ADMIN_EMAIL/);
  checkSettings(loadConfig({ ...server, ADMIN_EMAIL: 'a@b.c' }), { api: false, worker: true });
  // The notification senders are the worker's, when it runs them.
  refusedFor({ ...server, EMAIL_TRANSPORT: 'smtp' }, both, /^SMTP_URL: required by/);
  const apiOnly = { api: true, worker: false };
  checkSettings(loadConfig({ ...server, EMAIL_TRANSPORT: 'smtp' }), apiOnly);
  checkSettings(loadConfig({ EMAIL_TRANSPORT: 'smtp', NOTIFICATIONS_ENABLED: 'false' }), both);
});

test('every setting is declared in one of the areas, and each area is declared in one run', () => {
  const seen: string[] = [];
  for (const setting of configSettings) {
    assert.ok(AREAS.includes(setting.area), `${setting.env}: area "${setting.area}"`);
    if (seen.at(-1) !== setting.area) {
      assert.ok(!seen.includes(setting.area), `${setting.env}: ${setting.area} declared apart`);
      seen.push(setting.area);
    }
  }
  assert.deepEqual(seen, [...AREAS], 'the areas in the order docs/configuration.md lists them');
});
