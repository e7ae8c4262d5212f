/**
 * A PostgreSQL cluster of the test's own (initdb in a temp dir, its own port), for tests that
 * stop, crash or pause the database — never the machine's shared server. initdb refuses to run
 * as root, so when the tests run as root the cluster's commands run as the `postgres` user.
 */
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Cleanup } from './platform.ts';

const run = promisify(execFile);
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

export class ThrowawayPostgres {
  readonly dir: string;
  readonly port: number;
  readonly #asRoot: boolean;

  private constructor(dir: string, port: number, asRoot: boolean) {
    this.dir = dir;
    this.port = port;
    this.#asRoot = asRoot;
  }

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get #data(): string {
    return join(this.dir, 'data');
  }

  /** initdb + start; stopped and deleted after the test. */
  static async start(t: Cleanup): Promise<ThrowawayPostgres> {
    const dir = await mkdtemp(join(tmpdir(), 'herald-pg-'));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    const cluster = new ThrowawayPostgres(dir, await freePort(), asRoot);
    t.after(() => cluster.destroy());
    try {
      await cluster.#pg('initdb', [
        '-D',
        cluster.#data,
        '-A',
        'trust',
        '-U',
        'postgres',
        '-E',
        'UTF8',
        '--no-sync',
      ]);
    } catch (error) {
      throw new Error(
        `this test needs its own PostgreSQL cluster and initdb (${BIN}) failed: ${String(error)}`,
      );
    }
    await cluster.startServer();
    return cluster;
  }

  async #pg(command: string, args: string[]): Promise<string> {
    const file = join(BIN, command);
    const { stdout } = this.#asRoot
      ? await run('runuser', ['-u', 'postgres', '--', file, ...args], { timeout: 60_000 })
      : await run(file, args, { timeout: 60_000 });
    return stdout;
  }

  /** Starts the server and waits until it accepts connections. */
  async startServer(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=100`;
    await this.#pg('pg_ctl', [
      '-D',
      this.#data,
      '-o',
      options,
      '-l',
      join(this.dir, 'log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** Stops the server; `immediate` is a crash (recovery from the WAL at the next start). */
  async stopServer(mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
    await this.#pg('pg_ctl', ['-D', this.#data, '-m', mode, '-w', 'stop']);
  }

  async #pids(): Promise<number[]> {
    const postmaster = Number(
      (await readFile(join(this.#data, 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    const { stdout } = await run('pgrep', ['-P', String(postmaster)]).catch(() => ({ stdout: '' }));
    return [postmaster, ...stdout.split('\n').filter(Boolean).map(Number)];
  }

  /** Freezes every process of the cluster (SIGSTOP): connections hang instead of failing. */
  async pause(): Promise<void> {
    for (const pid of await this.#pids()) process.kill(pid, 'SIGSTOP');
  }

  async resume(): Promise<void> {
    for (const pid of await this.#pids()) process.kill(pid, 'SIGCONT');
  }

  async destroy(): Promise<void> {
    await this.resume().catch(() => {});
    await this.stopServer('immediate').catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}
