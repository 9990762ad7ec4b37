import net from 'node:net';
import { once } from 'node:events';
import { freePort } from './redis-server.js';

/**
 * A TCP proxy in front of a service (one replica's own way to Redis, say), which the test can
 * cut (every connection dropped, new ones refused) and restore on the same port: a network
 * partition between one process and a service the others still reach. Or freeze: connections
 * stay open but nothing gets through either way (held, delivered on thaw), as when a link
 * stalls without a reset: a query sent then waits for an answer that does not come.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private frozen = false;
  private readonly held: { to: net.Socket; data: Buffer }[] = [];

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      this.forward(client, upstream);
      this.forward(upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const { to, data } of this.held.splice(0)) if (!to.destroyed) to.write(data);
  }

  private forward(from: net.Socket, to: net.Socket): void {
    from.on('data', (data: Buffer) => {
      if (this.frozen) this.held.push({ to, data });
      else if (!to.destroyed) to.write(data);
    });
    from.on('end', () => to.end());
  }
}

/**
 * A started proxy in front of the service `serviceUrl` names (PostgreSQL, Redis), and that URL
 * through it: what one process is given so that the test can cut or stall its link alone.
 */
export async function proxyInFrontOf(
  serviceUrl: string,
  defaultPort: number,
): Promise<{ proxy: TcpProxy; url: string }> {
  const target = new URL(serviceUrl);
  const proxy = new TcpProxy(await freePort(), {
    host: target.hostname,
    port: Number(target.port || defaultPort),
  });
  await proxy.start();
  const proxied = new URL(serviceUrl);
  proxied.port = String(proxy.port);
  return { proxy, url: proxied.toString() };
}
