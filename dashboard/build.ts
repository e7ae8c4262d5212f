/**
 * Builds the dashboard (Vite) into dashboard/dist, which the API serves at /dashboard.
 *
 *   node dashboard/build.ts            build when dist is missing or older than the sources
 *   node dashboard/build.ts --force    always build
 *
 * The build goes to a temporary folder that is then renamed into place, so processes building
 * at the same time (parallel tests, a server building on demand) never serve a half-written dist.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_DIR = fileURLToPath(new URL('.', import.meta.url));
export const DIST_DIR = join(DASHBOARD_DIR, 'dist');
const SOURCES = ['index.html', 'src', 'build.ts'];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Whether dist is missing or older than a source file (a deployment without sources is fresh). */
export function dashboardStale(): boolean {
  const index = join(DIST_DIR, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return SOURCES.some((s) => newestMtime(join(DASHBOARD_DIR, s)) > built);
}

/** The Vite configuration, shared with `vite` dev mode (dashboard/vite.config.ts). */
export function viteConfig(outDir = DIST_DIR) {
  return {
    root: DASHBOARD_DIR,
    base: '/dashboard/',
    configFile: false as const,
    logLevel: 'warn' as const,
    clearScreen: false,
    build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 200 },
    server: {
      // `npx vite dashboard` during development: the API runs on :8000.
      proxy: Object.fromEntries(
        ['/api', '/metrics', '/health'].map((p) => [p, 'http://127.0.0.1:8000']),
      ),
    },
  };
}

/** Builds into dist (atomically replacing it). Throws when Vite is not installed. */
export async function buildDashboard(): Promise<void> {
  const { build } = await import('vite');
  const tmp = `${DIST_DIR}.${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await build(viteConfig(tmp));
    const old = `${tmp}-old`;
    if (existsSync(DIST_DIR)) renameSync(DIST_DIR, old);
    renameSync(tmp, DIST_DIR);
    rmSync(old, { recursive: true, force: true });
  } catch (error) {
    // Another process may have put its build in place first: that one is as good.
    if (!existsSync(join(DIST_DIR, 'index.html'))) throw error;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

let pending: Promise<void> | undefined;

/** Builds once per process when dist is missing or stale; later calls share the result. */
export function ensureDashboardBuilt(): Promise<void> {
  pending ??= dashboardStale() ? buildDashboard() : Promise.resolve();
  return pending;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes('--force');
  const started = Date.now();
  if (force || dashboardStale()) {
    await buildDashboard();
    process.stdout.write(`dashboard built in ${Date.now() - started} ms: ${DIST_DIR}\n`);
  } else {
    process.stdout.write('dashboard is up to date\n');
  }
}
