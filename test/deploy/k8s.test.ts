import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  clone,
  type Doc,
  K8S,
  k8sProblems,
  loadK8s,
  loadYaml,
  schemaProblems,
} from './manifests.ts';

const docs = loadK8s().map((d) => d.doc);
const find = (kind: string, name: string): Doc => {
  const doc = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  assert.ok(doc, `${kind}/${name} is missing`);
  return doc;
};

test('deploy/k8s holds the API and worker Deployments, their Service, PDBs, config, migrate Job and KEDA scaler', () => {
  const kinds = docs.map((d) => `${d.kind}/${d.metadata?.name}`).sort();
  assert.deepEqual(kinds, [
    'ConfigMap/herald-config',
    'Deployment/herald-api',
    'Deployment/herald-worker',
    'Job/herald-migrate',
    'Namespace/herald',
    'PodDisruptionBudget/herald-api',
    'PodDisruptionBudget/herald-worker',
    'ScaledObject/herald-worker',
    'Secret/herald-secrets',
    'Service/herald-api',
  ]);
});

test('every Kubernetes object validates against the schema of its kind (Kubernetes and KEDA)', () => {
  assert.deepEqual(schemaProblems(docs), []);
});

test('the objects reference each other and Herald consistently', () => {
  assert.deepEqual(k8sProblems(docs), []);
});

test('kustomization.yaml lists exactly the manifests in deploy/k8s', () => {
  const kustomization = loadYaml(join(K8S, 'kustomization.yaml'));
  const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), files.sort());
});

test('the schema check catches a wrongly typed field and an unknown kind', () => {
  const api = clone(find('Deployment', 'herald-api'));
  api.spec.replicas = 'two';
  assert.match(schemaProblems([api]).join('\n'), /replicas must be integer/);
  const keda = clone(find('ScaledObject', 'herald-worker'));
  keda.spec.triggers[0].metadata.lagThreshold = 5000;
  assert.match(schemaProblems([keda]).join('\n'), /lagThreshold must be string/);
  assert.match(schemaProblems([{ apiVersion: 'v1', kind: 'Pod' }]).join('\n'), /no schema/);
});

test('the cross-reference checks catch plausible mistakes', () => {
  const mistakes: [string, (all: Doc[]) => void, RegExp][] = [
    [
      'a Service selector that misses the API pods',
      (all) => {
        svc(all).spec.selector['app.kubernetes.io/component'] = 'apis';
      },
      /selector matches no Deployment/,
    ],
    [
      'a misspelt probe field (dropped silently by the API server)',
      (all) => {
        const c = container(all, 'herald-api');
        c.readinesProbe = c.readinessProbe;
        delete c.readinessProbe;
      },
      /unknown field "readinesProbe"|readiness must probe/,
    ],
    [
      'readiness on the liveness route',
      (all) => {
        container(all, 'herald-api').readinessProbe.httpGet.path = '/health';
      },
      /readiness must probe \/health\/ready/,
    ],
    [
      'a probe on a port the container does not declare',
      (all) => {
        container(all, 'herald-api').livenessProbe.httpGet.port = 'metrics';
      },
      /livenessProbe port is not a container port/,
    ],
    [
      'an env name Herald does not read',
      (all) => {
        configMap(all).data.KAFKA_BOOTSTRAP_SERVERS = 'kafka:9092';
      },
      /KAFKA_BOOTSTRAP_SERVERS is not a Herald setting/,
    ],
    [
      'an invalid setting value',
      (all) => {
        configMap(all).data.QUEUE_PARTITIONS = 'sixteen';
      },
      /QUEUE_PARTITIONS: expected an integer/,
    ],
    [
      'a grace period shorter than the drain',
      (all) => {
        configMap(all).data.SHUTDOWN_TIMEOUT_MS = '60000';
      },
      /terminationGracePeriodSeconds 45 s does not exceed SHUTDOWN_TIMEOUT_MS 60000/,
    ],
    [
      'a KEDA trigger on the wrong consumer group',
      (all) => {
        scaled(all).spec.triggers[0].metadata.consumerGroup = 'herald-processors';
      },
      /consumerGroup herald-processors is not herald.herald-processors/,
    ],
    [
      'more workers than partitions',
      (all) => {
        scaled(all).spec.maxReplicaCount = 32;
      },
      /maxReplicaCount exceeds QUEUE_PARTITIONS/,
    ],
    [
      'a PDB that forbids every eviction',
      (all) => {
        pdb(all, 'herald-api').spec.minAvailable = 2;
      },
      /minAvailable 2 blocks every eviction/,
    ],
    [
      'a worker probed on PORT, where it serves nothing (its endpoints are on OPS_PORT)',
      (all) => {
        const worker = container(all, 'herald-worker');
        worker.ports.push({ name: 'http', containerPort: 8000 });
        worker.livenessProbe.httpGet.port = 'http';
      },
      /livenessProbe port 8000 is not OPS_PORT \(9464\)/,
    ],
    [
      "a worker's liveness on the API's /health route",
      (all) => {
        container(all, 'herald-worker').livenessProbe.httpGet.path = '/health';
      },
      /herald-worker container herald: liveness must probe \/health\/live/,
    ],
    [
      'a worker without a readiness probe',
      (all) => {
        delete container(all, 'herald-worker').readinessProbe;
      },
      /herald-worker container herald: readiness must probe \/health\/ready/,
    ],
    [
      'a scrape annotation on a port the worker does not serve /metrics on',
      (all) => {
        of(all, 'Deployment', 'herald-worker').spec.template.metadata.annotations[
          'prometheus.io/port'
        ] = '8000';
      },
      /prometheus.io\/port 8000 is not OPS_PORT \(9464\)/,
    ],
    [
      'an OPS_PORT the worker manifest does not follow',
      (all) => {
        configMap(all).data.OPS_PORT = '9100';
      },
      /readinessProbe port 9464 is not OPS_PORT \(9100\)/,
    ],
    [
      'HTTP probes on herald migrate, which serves none',
      (all) => {
        of(all, 'Job').spec.template.spec.containers[0].livenessProbe = {
          httpGet: { path: '/health/live', port: 9464 },
        };
      },
      /herald migrate serves no HTTP/,
    ],
    [
      'a role the CLI does not have',
      (all) => {
        container(all, 'herald-worker').args = ['workers'];
      },
      /args\[0\] "workers" is not a herald command/,
    ],
    [
      'a reference to a Secret that does not exist',
      (all) => {
        container(all, 'herald-api').envFrom[1].secretRef.name = 'herald-secret';
      },
      /Secret herald-secret does not exist/,
    ],
  ];
  for (const [what, mutate, expected] of mistakes) {
    const all = clone(docs);
    mutate(all);
    assert.match(k8sProblems(all).join('\n'), expected, what);
  }
});

function of(all: Doc[], kind: string, name?: string): Doc {
  const doc = all.find((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  assert.ok(doc, `${kind} ${name ?? ''}`);
  return doc;
}
const svc = (all: Doc[]) => of(all, 'Service');
const configMap = (all: Doc[]) => of(all, 'ConfigMap');
const scaled = (all: Doc[]) => of(all, 'ScaledObject');
const pdb = (all: Doc[], name: string) => of(all, 'PodDisruptionBudget', name);
const container = (all: Doc[], deployment: string): Doc =>
  of(all, 'Deployment', deployment).spec.template.spec.containers[0];
