import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestPlatform, startTestWorker } from '../helpers/platform.ts';
import { DEPLOY, type Doc, loadK8s, loadYaml } from './manifests.ts';

const ADMIN_KEY = 'deploy-test-admin-key-0123456789abcdef';

/** The HTTP probe paths in deploy/k8s of the workloads running `herald <command>`. */
function probePaths(command: string): string[] {
  const paths = new Set<string>();
  for (const { doc } of loadK8s()) {
    for (const c of (doc.spec?.template?.spec?.containers ?? []) as Doc[]) {
      if (c.args?.[0] !== command) continue;
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        if (probe?.httpGet?.path !== undefined) paths.add(probe.httpGet.path);
      }
    }
  }
  return [...paths];
}

/** The Prometheus jobs of the compose stack that scrape `service`. */
function scrapeJobs(service: string): Doc[] {
  const prometheus = loadYaml(join(DEPLOY, 'prometheus/prometheus.yml'));
  return (prometheus.scrape_configs as Doc[]).filter((job) =>
    (job.dns_sd_configs ?? []).some((sd: Doc) => (sd.names ?? []).includes(service)),
  );
}

test('the probes, the image HEALTHCHECK and the Prometheus scrape hit routes a keyed API serves', async (t) => {
  // As deployed: HOST=0.0.0.0 turns API keys on. Probes send no key, Prometheus sends one.
  const platform = await startTestPlatform(
    t,
    { AUTH: 'required', ADMIN_API_KEY: ADMIN_KEY },
    { roles: { api: true, worker: false }, database: 'postgres' },
  );
  const paths = probePaths('api');
  assert.ok(paths.includes('/health') && paths.includes('/health/ready'), paths.join(', '));
  for (const path of paths) {
    const response = await fetch(`${platform.url}${path}`);
    assert.equal(response.status, 200, `${path} answers a kubelet without a key`);
    await response.arrayBuffer();
  }

  const jobs = scrapeJobs('api');
  assert.ok(jobs.length > 0, 'the APIs are scraped');
  for (const job of jobs) {
    const url = `${platform.url}${job.metrics_path ?? '/metrics'}`;
    const keyed = await fetch(url, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(keyed.status, 200, `${job.job_name} scrape with the key`);
    assert.match(await keyed.text(), /^herald_/m);
    const anonymous = await fetch(url);
    assert.equal(anonymous.status, 401, 'without the key the scrape would fail: it needs one');
    await anonymous.arrayBuffer();
  }
});

test("the worker's probes and its Prometheus scrape hit routes its ops port serves, without a key", async (t) => {
  const worker = await startTestWorker(t, {
    AUTH: 'required',
    ADMIN_API_KEY: ADMIN_KEY,
    AGENTS_ENABLED: 'false',
    NOTIFICATIONS_ENABLED: 'false',
  });
  const paths = probePaths('worker');
  assert.ok(paths.includes('/health/live') && paths.includes('/health/ready'), paths.join(', '));
  for (const path of paths) {
    const response = await fetch(`${worker.opsUrl}${path}`);
    assert.equal(response.status, 200, `${path} answers a kubelet`);
    await response.arrayBuffer();
  }

  // The compose healthcheck of the workers, run as Docker runs it in the container.
  const healthcheck = loadYaml(join(DEPLOY, 'compose.yaml')).services.worker.healthcheck.test;
  assert.deepEqual(healthcheck.slice(0, 3), ['CMD', 'node', '-e']);
  const opsPort = new URL(worker.opsUrl).port;
  const exit = await new Promise<number | null>((resolve) => {
    execFile(process.execPath, ['-e', healthcheck[3]], { env: { OPS_PORT: opsPort } }, (error) =>
      resolve(error === null ? 0 : (error.code as number | null)),
    );
  });
  assert.equal(exit, 0, 'the compose healthcheck finds the worker ready');

  const annotations = loadK8s().find(
    ({ doc }) => doc.kind === 'Deployment' && doc.metadata?.name === 'herald-worker',
  )?.doc.spec.template.metadata.annotations;
  const jobs = scrapeJobs('worker');
  assert.ok(jobs.length > 0, 'the workers are scraped');
  for (const path of [annotations['prometheus.io/path'], ...jobs.map((j) => j.metrics_path)]) {
    const scrape = await fetch(`${worker.opsUrl}${path ?? '/metrics'}`);
    assert.equal(scrape.status, 200, `${path} scrape without a key`);
    assert.match(await scrape.text(), /^herald_/m);
  }
});
