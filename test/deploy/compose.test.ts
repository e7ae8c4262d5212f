import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  clone,
  composeProblems,
  DEPLOY,
  type Doc,
  grafanaProblems,
  loadYaml,
  prometheusProblems,
  readText,
} from './manifests.ts';

const compose = loadYaml(join(DEPLOY, 'compose.yaml'));
const prometheus = loadYaml(join(DEPLOY, 'prometheus/prometheus.yml'));
const datasources = loadYaml(join(DEPLOY, 'grafana/provisioning/datasources/prometheus.yml'));
const provider = loadYaml(join(DEPLOY, 'grafana/provisioning/dashboards/herald.yml'));
const dashboard = JSON.parse(readText(join(DEPLOY, 'grafana/herald-dashboard.json'))) as Doc;
// Compose resolves relative paths from the compose file's folder.
const files = { exists: (path: string) => existsSync(join(DEPLOY, path)) };

test('compose runs PostgreSQL, Kafka, Redis, a migrate job, 2 APIs and 3 workers on Kafka, consistently configured', () => {
  assert.deepEqual(composeProblems(compose, files), []);
});

test('Prometheus scrapes every Herald process that serves /metrics, with a key, and loads the alert rules', () => {
  assert.deepEqual(prometheusProblems(prometheus, compose), []);
  const alerts = loadYaml(join(DEPLOY, 'prometheus/alerts.yml'));
  assert.ok(alerts.groups[0].rules.length > 0);
});

test('Grafana gets the Prometheus datasource and the Herald dashboard, whose datasource resolves when provisioned', () => {
  assert.deepEqual(grafanaProblems(compose, datasources, provider, dashboard), []);
});

test('the compose checks catch plausible mistakes', () => {
  const mistakes: [string, (c: Doc) => void, RegExp][] = [
    ['one API only', (c) => (c.services.api.deploy.replicas = 1), /api must run 2 replicas/],
    [
      'a misspelt setting',
      (c) => (c.services.worker.environment.KAFKA_BROKER = 'kafka:9092'),
      /worker: KAFKA_BROKER is not a Herald setting/,
    ],
    [
      'a broker address Kafka does not advertise',
      (c) => (c.services.api.environment.KAFKA_BROKERS = 'localhost:9092'),
      /api: KAFKA_BROKERS localhost:9092 is not an advertised listener/,
    ],
    [
      'a database host that is no service',
      (c) => (c.services.worker.environment.DATABASE_URL = 'postgres://herald@db:5432/herald'),
      /worker: DATABASE_URL host is not a service/,
    ],
    [
      'a Redis host that is no service',
      (c) => (c.services.api.environment.REDIS_URL = 'redis://cache:6379'),
      /api: REDIS_URL host is not a service/,
    ],
    [
      'the wrong container port published',
      (c) => (c.services.api.ports = ['8001-8002:8080']),
      /api: publishes container port 8080, Herald listens on 8000/,
    ],
    [
      'a stop timeout shorter than the drain',
      (c) => (c.services.worker.stop_grace_period = '5s'),
      /worker: stop_grace_period 5s does not exceed SHUTDOWN_TIMEOUT_MS 10000/,
    ],
    [
      "a worker port published that is not the worker's OPS_PORT",
      (c) => (c.services.worker.ports = ['9100:8000']),
      /worker: publishes container port 8000, Herald listens on 9464/,
    ],
    [
      "workers health-checked by the image's HEALTHCHECK, which asks PORT",
      (c) => delete c.services.worker.healthcheck,
      /worker: no healthcheck on the \/health routes of OPS_PORT/,
    ],
    [
      'workers that start before the migration',
      (c) => (c.services.worker.depends_on = { kafka: { condition: 'service_healthy' } }),
      /worker: does not wait for the migrate job/,
    ],
    [
      'the postgres transport left on',
      (c) => (c.services.api.environment.BROKER = 'postgres'),
      /api: BROKER is not kafka/,
    ],
    [
      'a mount of a file that does not exist',
      (c) => c.services.prometheus.volumes.push('./prometheus/rules.yml:/etc/prometheus/rules.yml'),
      /prometheus: mounts missing .\/prometheus\/rules.yml/,
    ],
  ];
  for (const [what, mutate, expected] of mistakes) {
    const c = clone(compose);
    mutate(c);
    assert.match(composeProblems(c, files).join('\n'), expected, what);
  }
});

test('the Prometheus and Grafana checks catch plausible mistakes', () => {
  const p = clone(prometheus);
  p.scrape_configs[0].dns_sd_configs[0].port = 9100;
  assert.match(prometheusProblems(p, compose).join('\n'), /api listens on 8000/);
  const unauthenticated = clone(prometheus);
  delete unauthenticated.scrape_configs[0].authorization;
  assert.match(prometheusProblems(unauthenticated, compose).join('\n'), /no API key/);
  const workersOnApiPort = clone(prometheus);
  workersOnApiPort.scrape_configs[0].dns_sd_configs[0].names.push('worker');
  assert.match(
    prometheusProblems(workersOnApiPort, compose).join('\n'),
    /herald-api: worker listens on 9464/,
  );
  const unscrapedWorkers = clone(prometheus);
  unscrapedWorkers.scrape_configs = unscrapedWorkers.scrape_configs.filter(
    (job: Doc) => job.job_name !== 'herald-worker',
  );
  assert.match(
    prometheusProblems(unscrapedWorkers, compose).join('\n'),
    /worker serves \/metrics but is not scraped/,
  );
  const migrations = clone(prometheus);
  migrations.scrape_configs[0].dns_sd_configs[0].names.push('migrate');
  assert.match(prometheusProblems(migrations, compose).join('\n'), /migrate serves no \/metrics/);

  // An exported dashboard as Grafana writes it: ${DS_PROMETHEUS} is an import-time input only.
  const exported = clone(dashboard);
  exported.templating.list = [];
  assert.match(
    grafanaProblems(compose, datasources, provider, exported).join('\n'),
    /\$\{DS_PROMETHEUS\} resolves to nothing when provisioned/,
  );
  const d = clone(datasources);
  d.datasources[0].url = 'http://prom:9090';
  assert.match(grafanaProblems(compose, d, provider, dashboard).join('\n'), /is not a service/);
});
