/**
 * The layering rule, enforced: dependencies point inward, http/cli → app → ports ← adapters,
 * and domain depends on nothing. Read from the import graph of src/ (static, dynamic and type
 * imports alike), precisely:
 *
 * - domain/ imports only domain/, src/errors.ts, and code that only computes: node:crypto and
 *   the packages listed below. No I/O, no other layer.
 * - ports/ imports only domain/, ports/ and src/errors.ts.
 * - app/ never imports adapters/, http/, cli/ or platform/: it reaches the world through ports/.
 * - adapters/ never import app/, http/, cli/ or platform/: they implement ports.
 * - http/ and cli/ never import adapters/: src/platform/, the composition root, is the one
 *   place that chooses them (the CLI starts the platform; `herald migrate` migrates through it).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SRC = join(ROOT, 'src');

/** What domain/ may use beyond itself: modules that compute and do no I/O. */
const DOMAIN_NODE_MODULES = new Set(['node:crypto']);
const DOMAIN_PACKAGES = new Set(['re2js', 'ajv-formats']);
/** The layers app/ and adapters/ may not import. */
const OUTSIDE_APP = new Set(['adapters', 'http', 'cli', 'platform']);
const OUTSIDE_ADAPTERS = new Set(['app', 'http', 'cli', 'platform']);

interface Import {
  /** The importing file, e.g. src/app/worker.ts. */
  from: string;
  /** A file under src/ (e.g. src/ports/broker.ts), or a module name (node:fs, pg). */
  to: string;
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every import in src/, relative paths resolved to src/… files. */
function importGraph(): Import[] {
  const imports: Import[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(ROOT, file);
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = match[1] ?? match[2] ?? match[3] ?? '';
      const to = spec.startsWith('.') ? normalize(join(dirname(from), spec)) : spec;
      imports.push({ from, to });
    }
  }
  return imports;
}

const layerOf = (path: string) => (path.startsWith('src/') ? path.split('/')[1] : undefined);
const packageOf = (spec: string) =>
  spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);

/** Why an import breaks the rule, or undefined when it keeps it. */
function violation({ from, to }: Import): string | undefined {
  const layer = layerOf(from);
  const target = layerOf(to);
  if (layer === 'domain') {
    if (target === 'domain' || to === 'src/errors.ts') return undefined;
    if (target !== undefined) return 'domain imports only domain and src/errors.ts';
    if (to.startsWith('node:')) {
      return DOMAIN_NODE_MODULES.has(to)
        ? undefined
        : 'domain does no I/O (no node: module but crypto)';
    }
    return DOMAIN_PACKAGES.has(packageOf(to))
      ? undefined
      : 'domain uses no package that is not listed as computing only';
  }
  if (layer === 'ports') {
    if (target === 'domain' || target === 'ports' || to === 'src/errors.ts') return undefined;
    return 'ports import only domain, ports and src/errors.ts';
  }
  if (layer === 'app' && target !== undefined && OUTSIDE_APP.has(target)) {
    return `app reaches the world through ports, never ${target}/`;
  }
  if (layer === 'adapters' && target !== undefined && OUTSIDE_ADAPTERS.has(target)) {
    return `adapters implement ports; they do not import ${target}/`;
  }
  if ((layer === 'http' || layer === 'cli') && target === 'adapters') {
    return `${layer} does not choose adapters: src/platform/ does`;
  }
  return undefined;
}

test('the import graph of src/ keeps the layering rule', () => {
  const graph = importGraph();
  assert.ok(graph.length > 500, `the graph was read (${graph.length} imports)`);
  const broken = graph.flatMap((edge) => {
    const why = violation(edge);
    return why === undefined ? [] : [`${edge.from} imports ${edge.to}: ${why}`];
  });
  assert.deepEqual(broken, [], `layering broken:\n${broken.join('\n')}`);
});

test('the rule names what it refuses', () => {
  assert.match(
    violation({ from: 'src/app/worker.ts', to: 'src/adapters/brokers/postgres/broker.ts' }) ?? '',
    /app reaches the world through ports, never adapters/,
  );
  assert.match(violation({ from: 'src/domain/events.ts', to: 'node:fs' }) ?? '', /no I\/O/);
  assert.match(
    violation({ from: 'src/domain/users.ts', to: 'src/ports/user-store.ts' }) ?? '',
    /domain imports only domain/,
  );
  assert.match(
    violation({ from: 'src/cli/main.ts', to: 'src/adapters/postgres/migrate.ts' }) ?? '',
    /src\/platform\/ does/,
  );
  assert.equal(violation({ from: 'src/platform/start.ts', to: 'src/adapters/x.ts' }), undefined);
  assert.equal(violation({ from: 'src/http/server.ts', to: 'src/app/ingest.ts' }), undefined);
});
