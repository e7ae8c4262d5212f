import { connect, createServer, type Server, type Socket } from 'node:net';

/** Sees a relayed chunk; `connection` numbers the proxied connections. True cuts it. */
export type Tap = (
  direction: 'up' | 'down',
  chunk: Buffer,
  connection: number,
) => boolean | undefined;

/** Faults the proxy injects into the traffic it relays. */
export interface LinkFaults {
  /** Each chunk is held this long (both directions; order is kept). */
  delayMs?: number;
  /** Extra random delay per chunk, 0..jitterMs (still in order). */
  jitterMs?: number;
  /** Chance per relayed chunk that the whole connection is cut right there (mid-query). */
  cutProbability?: number;
}

/**
 * A TCP proxy in front of a real service, for outage tests: `cut()` drops every connection and
 * refuses new ones (as a dead database host would), `restore()` lets traffic through again;
 * `setFaults()` makes the link slow (delay, jitter) or lossy (connections cut mid-stream at
 * random), `sever()` cuts the open connections but keeps accepting new ones.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #up = true;
  #faults: LinkFaults = {};
  #tap: Tap | undefined;
  #connections = 0;
  /** Connections cut by `cutProbability` so far. */
  cuts = 0;
  port = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server);
    server.on('connection', (client) => proxy.#relay(client, targetPort, targetHost));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    proxy.port = typeof address === 'object' && address !== null ? address.port : 0;
    return proxy;
  }

  #relay(client: Socket, targetPort: number, targetHost: string): void {
    if (!this.#up) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const id = ++this.#connections;
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        destroyBoth();
      });
      socket.on('error', destroyBoth);
    }
    this.#forward(client, upstream, destroyBoth, 'up', id);
    this.#forward(upstream, client, destroyBoth, 'down', id);
  }

  /** Relays `from` → `to` through the fault settings, in order. */
  #forward(
    from: Socket,
    to: Socket,
    destroyBoth: () => void,
    direction: 'up' | 'down',
    connection: number,
  ): void {
    const queue: { at: number; chunk: Buffer }[] = [];
    let scheduled = false;
    let lastAt = 0;
    const flush = () => {
      scheduled = false;
      const now = Date.now();
      while (queue.length > 0 && (queue[0]?.at ?? 0) <= now) {
        const { chunk } = queue.shift() as { chunk: Buffer };
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) {
        scheduled = true;
        setTimeout(flush, (queue[0]?.at ?? now) - now);
      }
    };
    from.on('data', (chunk: Buffer) => {
      if (this.#tap?.(direction, chunk, connection) === true) {
        destroyBoth(); // the tap cut this connection: the chunk never arrives
        return;
      }
      if (from.destroyed) return;
      const { delayMs = 0, jitterMs = 0, cutProbability = 0 } = this.#faults;
      if (cutProbability > 0 && Math.random() < cutProbability) {
        this.cuts++;
        destroyBoth();
        return;
      }
      if (delayMs === 0 && jitterMs === 0 && queue.length === 0) {
        to.write(chunk);
        return;
      }
      // Never before an earlier chunk: a TCP stream stays in order however slow.
      lastAt = Math.max(lastAt, Date.now() + delayMs + Math.random() * jitterMs);
      queue.push({ at: lastAt, chunk });
      if (!scheduled) {
        scheduled = true;
        setTimeout(flush, lastAt - Date.now());
      }
    });
    from.on('end', () => to.end());
  }

  /** Makes the link slow or lossy from now on; `{}` makes it clean again. */
  setFaults(faults: LinkFaults): void {
    this.#faults = faults;
  }

  /**
   * Sees every chunk as it arrives, before it is delayed and relayed: `up` from the client,
   * `down` from the service (e.g. to act the moment a COMMIT's acknowledgement is on its way).
   * Returning true cuts that connection there: the chunk is never delivered.
   */
  tap(fn: Tap | undefined): void {
    this.#tap = fn;
  }

  /** Cuts every open connection; new ones are still accepted. */
  sever(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  cut(): void {
    this.#up = false;
    this.sever();
  }

  restore(): void {
    this.#up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
