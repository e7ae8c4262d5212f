/**
 * A Kafka broker of the test's own (scripts/kafka.sh on free ports, with its own state
 * directory), so that a test may stop and restart it without touching the shared broker on
 * 9092 that other tests use. Restarts keep the log directory (KAFKA_KEEP_DATA).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/kafka.sh', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

export class OwnKafka {
  readonly #env: Record<string, string>;
  readonly brokers: string;
  readonly #dir: string;

  private constructor(dir: string, port: number, controllerPort: number) {
    this.#dir = dir;
    this.brokers = `127.0.0.1:${port}`;
    this.#env = {
      KAFKA_STATE_DIR: dir,
      KAFKA_PORT: String(port),
      KAFKA_CONTROLLER_PORT: String(controllerPort),
      KAFKA_KEEP_DATA: '1',
      KAFKA_START_TIMEOUT_S: '120',
    };
  }

  static async start(): Promise<OwnKafka> {
    const kafka = new OwnKafka(
      await mkdtemp(join(tmpdir(), 'herald-kafka-')),
      await freePort(),
      await freePort(),
    );
    await kafka.#script('start');
    return kafka;
  }

  async #script(command: 'start' | 'stop', extra: Record<string, string> = {}): Promise<void> {
    try {
      await run('bash', [SCRIPT, command], {
        env: { ...process.env, ...this.#env, ...extra },
        timeout: 180_000,
      });
    } catch (error) {
      throw new Error(
        `this test needs its own Kafka broker; kafka.sh ${command} failed: ${String(error)}`,
      );
    }
  }

  /** Stops the broker (a graceful shutdown: SIGTERM), keeping its log. */
  stop(): Promise<void> {
    return this.#script('stop');
  }

  /** Starts it again on the same log. */
  restart(): Promise<void> {
    return this.#script('start');
  }

  /** Stops it and deletes its log and state. */
  async destroy(): Promise<void> {
    await this.#script('stop', { KAFKA_KEEP_DATA: '' }).catch(() => {});
    await rm(this.#dir, { recursive: true, force: true });
  }
}
