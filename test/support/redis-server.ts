import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether the redis-server binary is on this machine (CI installs it; it must be there). */
const REDIS_SERVER_AVAILABLE = spawnSync('redis-server', ['--version']).status === 0;

/**
 * For suites that start a redis-server of their own: skipped where the binary is missing,
 * except on CI (CI=true), where they run and fail, as the PostgreSQL and Redis suites do.
 */
export const describeWithRedisServer =
  REDIS_SERVER_AVAILABLE || process.env.CI === 'true' ? describe : describe.skip;

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * A throwaway redis-server of the test's own on `port` (never the machine's shared one):
 * no persistence unless asked, stopped with SIGKILL to simulate a crash.
 */
export class OwnRedisServer {
  private process: ChildProcess | undefined;

  /** With `persistDir`, every write is fsynced to an append-only file there, so a killed server restarts with its data. */
  constructor(
    readonly port: number,
    private readonly persistDir?: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        ...(this.persistDir
          ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.persistDir]
          : ['--appendonly', 'no']),
      ],
      { stdio: 'ignore' },
    );
    this.process = child;
    const deadline = Date.now() + 5000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${this.port}`);
      await sleep(20);
    }
  }

  /** SIGSTOP: the port still accepts connections, but nothing answers. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL'); // also ends a paused (SIGSTOPped) server
    await exited;
  }
}
