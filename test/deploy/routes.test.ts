import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTestPlatform } from '../helpers/platform.ts';
import { DEPLOY, type Doc, loadK8s, loadYaml } from './manifests.ts';

const ADMIN_KEY = 'deploy-test-admin-key-0123456789abcdef';

/** Every HTTP probe path in deploy/k8s. */
function probePaths(): string[] {
  const paths = new Set<string>();
  for (const { doc } of loadK8s()) {
    for (const c of (doc.spec?.template?.spec?.containers ?? []) as Doc[]) {
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        if (probe?.httpGet?.path !== undefined) paths.add(probe.httpGet.path);
      }
    }
  }
  return [...paths];
}

test('the probes, the image HEALTHCHECK and the Prometheus scrape hit routes a keyed API serves', async (t) => {
  // As deployed: HOST=0.0.0.0 turns API keys on. Probes send no key, Prometheus sends one.
  const platform = await startTestPlatform(
    t,
    { AUTH: 'required', ADMIN_API_KEY: ADMIN_KEY },
    { roles: { api: true, worker: false }, database: 'postgres' },
  );
  const paths = probePaths();
  assert.ok(paths.includes('/health') && paths.includes('/health/ready'), paths.join(', '));
  for (const path of paths) {
    const response = await fetch(`${platform.url}${path}`);
    assert.equal(response.status, 200, `${path} answers a kubelet without a key`);
    await response.arrayBuffer();
  }

  const prometheus = loadYaml(join(DEPLOY, 'prometheus/prometheus.yml'));
  for (const job of prometheus.scrape_configs as Doc[]) {
    const url = `${platform.url}${job.metrics_path ?? '/metrics'}`;
    const keyed = await fetch(url, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(keyed.status, 200, `${job.job_name} scrape with the key`);
    assert.match(await keyed.text(), /^herald_/m);
    const anonymous = await fetch(url);
    assert.equal(anonymous.status, 401, 'without the key the scrape would fail: it needs one');
    await anonymous.arrayBuffer();
  }
});
