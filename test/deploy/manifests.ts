/**
 * Offline checks of the deployment artifacts in deploy/ (no cluster and no Docker engine here):
 * each check takes parsed documents and returns the problems it found, so a test can run it
 * on the real files (expecting none) and on a deliberately broken copy (expecting some).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { configSettings, loadConfig } from '../../src/config.ts';
import { WORKER_GROUP } from '../../src/platform/consumer-groups.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = join(ROOT, 'deploy');
export const K8S = join(DEPLOY, 'k8s');

/** Commands of the image's entrypoint (`herald <command>`) that run a Herald role. */
export const HERALD_COMMANDS = ['start', 'api', 'worker', 'migrate'];
/** The roles that listen on PORT (`herald worker` and `herald migrate` serve no API). */
export const SERVING_COMMANDS = ['start', 'api'];
/** The roles without the API that serve /health/live, /health/ready and /metrics on OPS_PORT. */
export const OPS_COMMANDS = ['worker'];

/**
 * Where `herald <command>` answers HTTP with this configuration: the API on PORT, the ops
 * endpoints on OPS_PORT, or nowhere (`herald migrate`).
 */
export function httpPort(
  command: string,
  config: { port: number; opsPort: number },
): { setting: 'PORT' | 'OPS_PORT'; port: number } | undefined {
  if (SERVING_COMMANDS.includes(command)) return { setting: 'PORT', port: config.port };
  if (OPS_COMMANDS.includes(command)) return { setting: 'OPS_PORT', port: config.opsPort };
  return undefined;
}

/** The probe routes of a Deployment running `herald <command>`. */
const PROBE_PATHS: Record<string, { readiness: string; liveness: string }> = {
  start: { readiness: '/health/ready', liveness: '/health' },
  api: { readiness: '/health/ready', liveness: '/health' },
  worker: { readiness: '/health/ready', liveness: '/health/live' },
};

export const SETTING_NAMES = new Set(configSettings.map((s) => s.env));

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML, checked field by field
export type Doc = Record<string, any>;

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Every Kubernetes object in deploy/k8s, with the file it came from. */
export function loadK8s(): { file: string; doc: Doc }[] {
  const out: { file: string; doc: Doc }[] = [];
  for (const file of readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f))) {
    if (file === 'kustomization.yaml') continue;
    for (const document of parseAllDocuments(readText(join(K8S, file)))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
      const doc = document.toJS() as Doc | null;
      if (doc !== null) out.push({ file, doc });
    }
  }
  return out;
}

export function loadYaml(path: string): Doc {
  // merge: compose files share settings through YAML anchors and `<<:` merge keys.
  return parseYaml(readText(path), { merge: true }) as Doc;
}

/** Deep copy for mutation tests. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

// --- Kubernetes ----------------------------------------------------------------------------

type Validator = new (data: Doc) => { validate(): void };

const MODELS: Record<string, Validator> = {
  'v1/Namespace': Namespace as unknown as Validator,
  'v1/ConfigMap': ConfigMap as unknown as Validator,
  'v1/Secret': Secret as unknown as Validator,
  'v1/Service': Service as unknown as Validator,
  'apps/v1/Deployment': Deployment as unknown as Validator,
  'batch/v1/Job': Job as unknown as Validator,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as Validator,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject as unknown as Validator,
};

/** Validates each object against the Kubernetes (or KEDA) JSON schema of its kind. */
export function schemaProblems(docs: readonly Doc[]): string[] {
  const problems: string[] = [];
  for (const doc of docs) {
    const id = `${doc.kind}/${doc.metadata?.name}`;
    const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    if (Model === undefined) {
      problems.push(`${id}: no schema known for ${doc.apiVersion} ${doc.kind}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (error) {
      problems.push(`${id}: ${(error as Error).message}`);
    }
  }
  return problems;
}

// The schemas accept unknown fields, so a misspelt field (`readinesProbe`) would pass them and
// be dropped by the API server. These are the Container fields Kubernetes knows.
const CONTAINER_FIELDS = new Set([
  'args',
  'command',
  'env',
  'envFrom',
  'image',
  'imagePullPolicy',
  'lifecycle',
  'livenessProbe',
  'name',
  'ports',
  'readinessProbe',
  'resizePolicy',
  'resources',
  'restartPolicy',
  'securityContext',
  'startupProbe',
  'stdin',
  'stdinOnce',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'tty',
  'volumeDevices',
  'volumeMounts',
  'workingDir',
]);

function podTemplate(doc: Doc): Doc | undefined {
  if (doc.kind === 'Deployment' || doc.kind === 'Job') return doc.spec?.template;
  return undefined;
}

function containersOf(doc: Doc): Doc[] {
  return podTemplate(doc)?.spec?.containers ?? [];
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string>) {
  if (selector === undefined || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The environment a container gets: its envFrom ConfigMaps/Secrets, then its own env. */
export function containerEnv(container: Doc, docs: readonly Doc[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef !== undefined ? 'ConfigMap' : 'Secret';
    const target = docs.find((d) => d.kind === kind && d.metadata?.name === ref?.name);
    Object.assign(env, target?.data ?? {}, target?.stringData ?? {});
  }
  for (const entry of container.env ?? []) env[entry.name] = String(entry.value ?? '');
  return env;
}

export function shutdownTimeoutMs(env: Record<string, string>): number {
  return loadConfig(env).shutdownTimeoutMs;
}

/**
 * Cross-references between the objects, and between the objects and Herald: selectors,
 * names, env settings, commands, grace periods, the KEDA trigger.
 */
export function k8sProblems(docs: readonly Doc[]): string[] {
  const problems: string[] = [];
  const deployments = docs.filter((d) => d.kind === 'Deployment');
  const workloads = docs.filter((d) => podTemplate(d) !== undefined);
  const named = (kind: string, name: string) =>
    docs.some((d) => d.kind === kind && d.metadata?.name === name);

  for (const d of deployments) {
    const id = `Deployment/${d.metadata?.name}`;
    if (!matches(d.spec?.selector?.matchLabels, d.spec?.template?.metadata?.labels ?? {})) {
      problems.push(`${id}: selector does not match the pod template's labels`);
    }
  }
  for (const w of workloads) {
    const id = `${w.kind}/${w.metadata?.name}`;
    const spec = podTemplate(w)?.spec ?? {};
    if (spec.securityContext?.runAsNonRoot !== true) problems.push(`${id}: not runAsNonRoot`);
    for (const c of containersOf(w)) {
      const cid = `${id} container ${c.name}`;
      for (const key of Object.keys(c)) {
        if (!CONTAINER_FIELDS.has(key)) problems.push(`${cid}: unknown field "${key}"`);
      }
      const command = c.args?.[0];
      if (!HERALD_COMMANDS.includes(command)) {
        problems.push(`${cid}: args[0] "${command}" is not a herald command`);
      }
      for (const source of c.envFrom ?? []) {
        if (source.configMapRef && !named('ConfigMap', source.configMapRef.name)) {
          problems.push(`${cid}: ConfigMap ${source.configMapRef.name} does not exist`);
        }
        if (source.secretRef && !named('Secret', source.secretRef.name)) {
          problems.push(`${cid}: Secret ${source.secretRef.name} does not exist`);
        }
      }
      for (const entry of c.env ?? []) {
        if (!SETTING_NAMES.has(entry.name)) {
          problems.push(`${cid}: env ${entry.name} is not a Herald setting`);
        }
      }
      if (c.resources?.requests?.cpu === undefined || c.resources?.requests?.memory === undefined) {
        problems.push(`${cid}: no cpu and memory requests`);
      }
      if (c.resources?.limits?.memory === undefined) problems.push(`${cid}: no memory limit`);
      const env = containerEnv(c, docs);
      let timeoutMs: number | undefined;
      let serves: ReturnType<typeof httpPort>;
      try {
        const config = loadConfig(env);
        timeoutMs = config.shutdownTimeoutMs;
        serves = httpPort(command, config);
        if (serves !== undefined && config.host !== '0.0.0.0') {
          problems.push(`${cid}: HOST must be 0.0.0.0 for probes and the Service to reach it`);
        }
      } catch (error) {
        problems.push(`${cid}: its environment is not a valid Herald config: ${error}`);
      }
      const ports = new Map<string | number, number>();
      for (const p of c.ports ?? []) {
        ports.set(p.containerPort, p.containerPort);
        if (p.name !== undefined) ports.set(p.name, p.containerPort);
      }
      const probes = ['readinessProbe', 'livenessProbe', 'startupProbe'] as const;
      for (const kind of probes) {
        const probe = c[kind];
        if (probe === undefined) continue;
        if (probe.httpGet === undefined) continue;
        if (serves === undefined) {
          problems.push(`${cid}: ${kind} over HTTP, but herald ${command} serves no HTTP`);
          continue;
        }
        const port = ports.get(probe.httpGet.port);
        if (port === undefined) problems.push(`${cid}: ${kind} port is not a container port`);
        else if (port !== serves.port) {
          problems.push(`${cid}: ${kind} port ${port} is not ${serves.setting} (${serves.port})`);
        }
      }
      const paths = PROBE_PATHS[command];
      if (w.kind === 'Deployment' && paths !== undefined) {
        if (c.readinessProbe?.httpGet?.path !== paths.readiness) {
          problems.push(`${cid}: readiness must probe ${paths.readiness}`);
        }
        if (c.livenessProbe?.httpGet?.path !== paths.liveness) {
          problems.push(`${cid}: liveness must probe ${paths.liveness}`);
        }
      }
      // The API's /metrics needs an API key, so only the keyless ops port is scraped by annotation.
      if (w.kind === 'Deployment' && serves?.setting === 'OPS_PORT') {
        const annotations = podTemplate(w)?.metadata?.annotations ?? {};
        if (annotations['prometheus.io/scrape'] !== 'true') {
          problems.push(`${id}: serves /metrics on OPS_PORT but has no prometheus.io/scrape`);
        }
        if (Number(annotations['prometheus.io/port']) !== serves.port) {
          problems.push(
            `${id}: prometheus.io/port ${annotations['prometheus.io/port']} is not OPS_PORT (${serves.port})`,
          );
        }
        if ((annotations['prometheus.io/path'] ?? '/metrics') !== '/metrics') {
          problems.push(`${id}: prometheus.io/path is not /metrics`);
        }
      }
      if (w.kind === 'Deployment' && timeoutMs !== undefined) {
        const grace = (spec.terminationGracePeriodSeconds ?? 30) * 1000;
        const preStop = (c.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
        if (grace <= timeoutMs + preStop) {
          problems.push(
            `${id}: terminationGracePeriodSeconds ${grace / 1000} s does not exceed ` +
              `SHUTDOWN_TIMEOUT_MS ${timeoutMs} ms + preStop ${preStop} ms`,
          );
        }
      }
    }
  }
  for (const cm of docs.filter((d) => d.kind === 'ConfigMap' || d.kind === 'Secret')) {
    for (const key of Object.keys({ ...cm.data, ...cm.stringData })) {
      if (!SETTING_NAMES.has(key)) {
        problems.push(`${cm.kind}/${cm.metadata?.name}: ${key} is not a Herald setting`);
      }
    }
  }
  for (const svc of docs.filter((d) => d.kind === 'Service')) {
    const id = `Service/${svc.metadata?.name}`;
    const targets = deployments.filter((d) =>
      matches(svc.spec?.selector, d.spec?.template?.metadata?.labels ?? {}),
    );
    if (targets.length === 0) problems.push(`${id}: selector matches no Deployment`);
    for (const port of svc.spec?.ports ?? []) {
      const found = targets.some((d) =>
        containersOf(d).some((c) =>
          (c.ports ?? []).some(
            (p: Doc) => p.name === port.targetPort || p.containerPort === port.targetPort,
          ),
        ),
      );
      if (!found) problems.push(`${id}: targetPort ${port.targetPort} is no container port`);
    }
  }
  for (const pdb of docs.filter((d) => d.kind === 'PodDisruptionBudget')) {
    const id = `PodDisruptionBudget/${pdb.metadata?.name}`;
    const targets = deployments.filter((d) =>
      matches(pdb.spec?.selector?.matchLabels, d.spec?.template?.metadata?.labels ?? {}),
    );
    if (targets.length !== 1) problems.push(`${id}: selects ${targets.length} Deployments`);
    const minAvailable = pdb.spec?.minAvailable;
    const replicas = targets[0]?.spec?.replicas ?? 1;
    if (typeof minAvailable === 'number' && minAvailable >= replicas) {
      problems.push(`${id}: minAvailable ${minAvailable} blocks every eviction`);
    }
  }
  for (const so of docs.filter((d) => d.kind === 'ScaledObject')) {
    const id = `ScaledObject/${so.metadata?.name}`;
    const target = deployments.find((d) => d.metadata?.name === so.spec?.scaleTargetRef?.name);
    if (target === undefined) {
      problems.push(`${id}: scaleTargetRef names no Deployment`);
      continue;
    }
    const container = containersOf(target)[0] ?? {};
    if (container.args?.[0] !== 'worker') problems.push(`${id}: scales something not a worker`);
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(containerEnv(container, docs));
    } catch {
      continue; // reported with the container
    }
    for (const trigger of so.spec?.triggers ?? []) {
      if (trigger.type !== 'kafka') continue;
      const group = `${config.brokerNamespace}.${WORKER_GROUP}`;
      if (trigger.metadata?.consumerGroup !== group) {
        problems.push(`${id}: consumerGroup ${trigger.metadata?.consumerGroup} is not ${group}`);
      }
      if (trigger.metadata?.bootstrapServers !== config.kafkaBrokers.join(',')) {
        problems.push(`${id}: bootstrapServers differ from KAFKA_BROKERS`);
      }
    }
    if (so.spec?.maxReplicaCount > config.queuePartitions) {
      problems.push(`${id}: maxReplicaCount exceeds QUEUE_PARTITIONS (the extra workers idle)`);
    }
    if ((so.spec?.minReplicaCount ?? 0) < 1) {
      problems.push(`${id}: minReplicaCount 0 leaves no worker to notice new events`);
    }
  }
  return problems;
}

// --- Compose -------------------------------------------------------------------------------

/** `${NAME:-default}` and `${NAME:?message}` as Compose interpolates them with NAME unset. */
export function interpolate(value: string, env: Record<string, string> = {}): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}/g, (_, name, op, arg) => {
    if (env[name] !== undefined) return env[name];
    if (op === '-') return arg;
    return op === '?' ? `unset-${name}` : '';
  });
}

export function isHeraldService(service: Doc): boolean {
  return service.build?.dockerfile === 'deploy/Dockerfile';
}

function commandOf(service: Doc): string | undefined {
  const command = service.command;
  return Array.isArray(command) ? command[0] : command?.split(' ')[0];
}

function serviceEnv(service: Doc, env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(service.environment ?? {})) {
    out[k] = interpolate(String(v), env);
  }
  return out;
}

/** Milliseconds of a Compose duration such as `15s`, `1m30s`, `500ms`. */
export function durationMs(value: string | undefined): number {
  if (value === undefined) return 10_000; // Compose's default stop timeout
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    total += Number(n) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms'] ?? 0);
  }
  return total;
}

/** Host and port of `scheme://user:pass@host:port/...` or `host:port`. */
function hostPort(address: string): { host: string; port: number } | undefined {
  const m = /^(?:[a-z]+:\/\/)?(?:[^@/]*@)?([^:/,]+):(\d+)/.exec(address);
  return m ? { host: m[1] ?? '', port: Number(m[2]) } : undefined;
}

/** What the operator exports before `docker compose up` (see compose.yaml). */
const COMPOSE_ENV = { HERALD_ADMIN_API_KEY: 'k'.repeat(40) };

export function composeProblems(compose: Doc, files: { exists(path: string): boolean }): string[] {
  const problems: string[] = [];
  const services = (compose.services ?? {}) as Record<string, Doc>;
  const env = COMPOSE_ENV;
  for (const required of ['postgres', 'kafka', 'redis', 'migrate', 'api', 'worker']) {
    if (services[required] === undefined) problems.push(`service ${required} is missing`);
  }
  for (const required of ['prometheus', 'grafana']) {
    if (services[required] === undefined) problems.push(`service ${required} is missing`);
  }
  if (services.api?.deploy?.replicas !== 2) problems.push('api must run 2 replicas');
  if (services.worker?.deploy?.replicas !== 3) problems.push('worker must run 3 replicas');

  for (const [name, service] of Object.entries(services)) {
    for (const dep of Object.keys(
      Array.isArray(service.depends_on)
        ? Object.fromEntries(service.depends_on.map((d: string) => [d, {}]))
        : (service.depends_on ?? {}),
    )) {
      if (services[dep] === undefined) problems.push(`${name}: depends on unknown service ${dep}`);
    }
    for (const volume of service.volumes ?? []) {
      const source = String(volume).split(':')[0] ?? '';
      if (source.startsWith('.')) {
        if (!files.exists(source)) problems.push(`${name}: mounts missing ${source}`);
      } else if (!(source in (compose.volumes ?? {}))) {
        problems.push(`${name}: volume ${source} is not declared`);
      }
    }
    for (const secret of service.secrets ?? []) {
      if (!(secret in (compose.secrets ?? {}))) problems.push(`${name}: unknown secret ${secret}`);
    }
    if (!isHeraldService(service)) continue;

    const command = commandOf(service);
    if (command === undefined || !HERALD_COMMANDS.includes(command)) {
      problems.push(`${name}: command ${command} is not a herald command`);
      continue;
    }
    const vars = serviceEnv(service, env);
    for (const key of Object.keys(vars)) {
      if (!SETTING_NAMES.has(key)) problems.push(`${name}: ${key} is not a Herald setting`);
    }
    let config: ReturnType<typeof loadConfig> | undefined;
    try {
      config = loadConfig(vars);
    } catch (error) {
      problems.push(`${name}: not a valid Herald config: ${error}`);
      continue;
    }
    if (config.broker !== 'kafka') problems.push(`${name}: BROKER is not kafka`);
    if (config.databaseUrl === undefined) problems.push(`${name}: no DATABASE_URL`);
    const db = hostPort(config.databaseUrl ?? '');
    if (db === undefined || services[db.host] === undefined) {
      problems.push(`${name}: DATABASE_URL host is not a service`);
    }
    if (config.redisUrl !== undefined) {
      const redis = hostPort(config.redisUrl);
      if (redis === undefined || services[redis.host] === undefined) {
        problems.push(`${name}: REDIS_URL host is not a service`);
      }
    }
    for (const broker of config.kafkaBrokers) {
      const hp = hostPort(broker);
      const kafka = hp && services[hp.host];
      const advertised = String(kafka?.environment?.KAFKA_ADVERTISED_LISTENERS ?? '');
      if (kafka === undefined || !advertised.includes(`//${broker}`)) {
        problems.push(`${name}: KAFKA_BROKERS ${broker} is not an advertised listener`);
      }
    }
    if (durationMs(service.stop_grace_period) <= config.shutdownTimeoutMs) {
      problems.push(
        `${name}: stop_grace_period ${service.stop_grace_period ?? '10s'} does not exceed ` +
          `SHUTDOWN_TIMEOUT_MS ${config.shutdownTimeoutMs} ms`,
      );
    }
    const serves = httpPort(command, config);
    if (serves !== undefined) {
      if (config.host !== '0.0.0.0') problems.push(`${name}: HOST must be 0.0.0.0`);
      for (const port of service.ports ?? []) {
        const container = Number(String(port).split(':').at(-1));
        if (container !== serves.port) {
          problems.push(
            `${name}: publishes container port ${container}, Herald listens on ${serves.port}`,
          );
        }
      }
    } else if ((service.ports ?? []).length > 0) {
      problems.push(`${name}: herald ${command} serves no HTTP but publishes ports`);
    }
    // The image's HEALTHCHECK asks PORT, which a worker does not serve: its own asks OPS_PORT.
    if (serves?.setting === 'OPS_PORT') {
      const check = [service.healthcheck?.test ?? []].flat().join(' ');
      if (!check.includes('OPS_PORT') || !check.includes('/health/')) {
        problems.push(`${name}: no healthcheck on the /health routes of OPS_PORT`);
      }
    }
    if (command === 'api' || command === 'worker') {
      if (service.depends_on?.migrate?.condition !== 'service_completed_successfully') {
        problems.push(`${name}: does not wait for the migrate job`);
      }
    }
  }
  return problems;
}

/** Prometheus scrape config of the compose stack against the compose services. */
export function prometheusProblems(prometheus: Doc, compose: Doc): string[] {
  const problems: string[] = [];
  const services = (compose.services ?? {}) as Record<string, Doc>;
  const mounts = (services.prometheus?.volumes ?? []).map((v: string) => String(v).split(':'));
  const mountedAt = (target: string) => mounts.some((m: string[]) => m[1] === target);
  for (const rules of prometheus.rule_files ?? []) {
    if (!mountedAt(rules)) problems.push(`rule file ${rules} is not mounted`);
  }
  const scraped = new Set<string>();
  for (const job of prometheus.scrape_configs ?? []) {
    if ((job.metrics_path ?? '/metrics') !== '/metrics') {
      problems.push(`${job.job_name}: metrics_path is not /metrics`);
    }
    const file = job.authorization?.credentials_file as string | undefined;
    const secret = file?.replace('/run/secrets/', '');
    const keyed = secret !== undefined && (services.prometheus?.secrets ?? []).includes(secret);
    for (const sd of job.dns_sd_configs ?? []) {
      for (const host of sd.names ?? []) {
        const service = services[host];
        if (service === undefined) {
          problems.push(`${job.job_name}: ${host} is not a service`);
          continue;
        }
        scraped.add(host);
        const serves = metricsPort(service);
        if (serves === undefined) {
          problems.push(`${job.job_name}: ${host} serves no /metrics`);
          continue;
        }
        if (sd.port !== serves.port) {
          problems.push(`${job.job_name}: ${host} listens on ${serves.port}`);
        }
        // The ops port asks for no key; the API's /metrics does once auth is on.
        if (serves.setting === 'PORT' && !keyed) {
          problems.push(`${job.job_name}: no API key (Herald's /metrics needs metrics:read)`);
        }
      }
    }
  }
  for (const [name, service] of Object.entries(services)) {
    if (metricsPort(service) !== undefined && !scraped.has(name)) {
      problems.push(`${name} serves /metrics but is not scraped`);
    }
  }
  return problems;
}

/** Where a compose service serves /metrics: a Herald API on PORT, a worker on OPS_PORT. */
function metricsPort(service: Doc): ReturnType<typeof httpPort> {
  if (!isHeraldService(service)) return undefined;
  try {
    return httpPort(commandOf(service) ?? '', loadConfig(serviceEnv(service, COMPOSE_ENV)));
  } catch {
    return undefined; // an invalid configuration is reported by composeProblems
  }
}

/**
 * Grafana provisioning: the datasource points at the Prometheus service, the dashboard
 * provider at the mounted dashboard, and every `${VAR}` datasource of the dashboard is one of
 * its variables (the `__inputs` of an exported dashboard are resolved on import only, never
 * when a file is provisioned).
 */
export function grafanaProblems(
  compose: Doc,
  datasources: Doc,
  provider: Doc,
  dashboard: Doc,
): string[] {
  const problems: string[] = [];
  const services = (compose.services ?? {}) as Record<string, Doc>;
  const mounts = (services.grafana?.volumes ?? []).map((v: string) => String(v).split(':'));
  for (const ds of datasources.datasources ?? []) {
    const hp = hostPort(ds.url ?? '');
    if (hp === undefined || services[hp.host] === undefined) {
      problems.push(`datasource ${ds.name}: ${ds.url} is not a service`);
    }
  }
  for (const p of provider.providers ?? []) {
    const dir = p.options?.path;
    if (!mounts.some((m: string[]) => m[1]?.startsWith(`${dir}/`) && m[0]?.endsWith('.json'))) {
      problems.push(`provider ${p.name}: no dashboard mounted under ${dir}`);
    }
  }
  const variables = new Set<string>(
    (dashboard.templating?.list ?? [])
      .filter((v: Doc) => v.type === 'datasource')
      .map((v: Doc) => v.name),
  );
  const uids = new Set<string>();
  const walk = (node: unknown) => {
    if (Array.isArray(node)) for (const item of node) walk(item);
    else if (node !== null && typeof node === 'object') {
      const ds = (node as Doc).datasource;
      if (ds && typeof ds.uid === 'string') uids.add(ds.uid);
      for (const value of Object.values(node)) walk(value);
    }
  };
  walk(dashboard.panels);
  const provisioned = new Set<string>((datasources.datasources ?? []).map((d: Doc) => d.uid));
  for (const uid of uids) {
    const variable = /^\$\{(\w+)\}$/.exec(uid)?.[1];
    if (variable !== undefined ? !variables.has(variable) : !provisioned.has(uid)) {
      problems.push(`dashboard datasource ${uid} resolves to nothing when provisioned`);
    }
  }
  return problems;
}

// --- Dockerfile ----------------------------------------------------------------------------

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, continuations joined). */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [keyword = '', ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    if (instruction.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(instruction.args);
      const from = (m?.[1] ?? '').replace(/\$\{(\w+)\}/g, (_, n) => args[n] ?? '');
      stages.push({ from, name: m?.[2], instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [name = '', value = ''] = instruction.args.split('=');
      args[name] = value;
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

export function dockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const { stages } = parseDockerfile(text);
  const final = stages.at(-1);
  if (stages.length < 2 || final === undefined) return ['not a multi-stage build'];
  const all = (stage: Stage, keyword: string) =>
    stage.instructions.filter((i) => i.keyword === keyword);
  const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1);

  for (const stage of stages) {
    if (!/^node:24([.-]|$)/.test(stage.from)) {
      problems.push(`stage ${stage.name}: ${stage.from} is not an official node:24 image`);
    }
  }
  const user = last(final, 'USER')?.args;
  if (user === undefined || /^(0|root)(:|$)/.test(user)) problems.push('runs as root');
  const healthcheck = last(final, 'HEALTHCHECK')?.args ?? '';
  if (!healthcheck.includes('/health')) problems.push('no HEALTHCHECK on /health');
  const copiesFrom = all(final, 'COPY').filter((c) => c.args.includes('--from='));
  if (copiesFrom.length === 0) problems.push('the final stage copies nothing from a build stage');
  for (const copy of copiesFrom) {
    const from = /--from=(\S+)/.exec(copy.args)?.[1];
    if (!stages.some((s) => s.name === from)) problems.push(`COPY --from=${from}: no such stage`);
  }
  const modulesFrom = copiesFrom.find((c) => /node_modules/.test(c.args));
  const depsStage = stages.find(
    (s) => s.name === /--from=(\S+)/.exec(modulesFrom?.args ?? '')?.[1],
  );
  const install = depsStage && all(depsStage, 'RUN').find((r) => /npm ci/.test(r.args));
  if (install === undefined || !/--omit=dev/.test(install.args)) {
    problems.push('the runtime node_modules are not installed with npm ci --omit=dev');
  }
  const distFrom = copiesFrom.find((c) => /dashboard\/dist/.test(c.args));
  const builder = stages.find((s) => s.name === /--from=(\S+)/.exec(distFrom?.args ?? '')?.[1]);
  if (!builder || !all(builder, 'RUN').some((r) => /dashboard\/build\.ts/.test(r.args))) {
    problems.push('the dashboard is not built in a build stage and copied into the image');
  }
  const entrypoint = last(final, 'ENTRYPOINT')?.args ?? '';
  if (!entrypoint.includes('bin/herald.js')) problems.push('the entrypoint is not bin/herald.js');
  const cmd = last(final, 'CMD')?.args ?? '';
  const command = (JSON.parse(cmd || '[]') as string[])[0] ?? '';
  if (!HERALD_COMMANDS.includes(command)) problems.push(`CMD ${cmd} is not a herald command`);
  for (const env of all(final, 'ENV')) {
    for (const [, name] of env.args.matchAll(/(\w+)=/g)) {
      if (name !== 'NODE_ENV' && !SETTING_NAMES.has(name ?? '')) {
        problems.push(`ENV ${name} is not a Herald setting`);
      }
    }
  }
  return problems;
}
