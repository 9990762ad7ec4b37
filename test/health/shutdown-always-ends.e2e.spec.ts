import { setTimeout as delay } from 'node:timers/promises';
import {
  type BuiltAppProcess,
  type Exit,
  send,
  startBuiltApp,
} from '../support/built-app-process.js';

// After SIGTERM or SIGINT the process ends within SHUTDOWN_DRAIN_MS + SHUTDOWN_GRACE_MS + 1 s,
// whatever reads its output does meanwhile: `npm start | pino-pretty` and Ctrl-C (the reader
// dies with the signal), a parent that exits right after signalling, a reader that stopped
// reading. A broken or full pipe may lose log lines, never the exit. The real built server.

const DRAIN_MS = 500;
const GRACE_MS = 1000;
/** The hard bound: drain + grace + the fixed margin GracefulShutdown allows for closing. */
const HARD_EXIT_MS = DRAIN_MS + GRACE_MS + 1000;

/** The exit, or undefined if the process is still alive `withinMs` after `since`. */
async function exitWithin(server: BuiltAppProcess, since: number, withinMs: number) {
  const timeout = new AbortController();
  const exit = await Promise.race([
    server.exited,
    delay(since + withinMs - Date.now(), undefined, { signal: timeout.signal }).catch(() => {}),
  ]);
  timeout.abort();
  return exit as Exit | undefined;
}

describe('shutdown always ends', () => {
  let server: BuiltAppProcess | undefined;
  afterEach(async () => {
    await server?.cleanup();
    server = undefined;
  });

  async function started(env: Record<string, string> = {}): Promise<BuiltAppProcess> {
    server = await startBuiltApp({
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      ...env,
    });
    expect((await send(`${server.url}/health/live`)).status).toBe(200);
    return server;
  }

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s, then the reader of stdout and stderr goes away at once: exits 0 after the drain',
    async (signal) => {
      const { child } = await started();
      const signalledAt = Date.now();
      child.kill(signal);
      child.stdout!.destroy();
      child.stderr!.destroy();

      const exit = await exitWithin(server!, signalledAt, HARD_EXIT_MS + 1000);
      expect(exit).toBeDefined();
      expect(exit!.code).toBe(0);
      expect(exit!.at - signalledAt).toBeGreaterThanOrEqual(DRAIN_MS - 50);
      expect(exit!.at - signalledAt).toBeLessThan(DRAIN_MS + GRACE_MS + 1000);
    },
  );

  it('SIGTERM while stdout is a full pipe nobody reads: exits 0 after the drain', async () => {
    const { child, url } = await started();
    child.stdout!.pause();
    // About 4 MiB of log lines: far more than a pipe holds. The server answers all the same.
    const flood = await send(`${url}/test/log-lines?count=4000`, { method: 'POST' });
    expect(flood.status).toBe(200);

    const signalledAt = Date.now();
    child.kill('SIGTERM');
    const exit = await exitWithin(server!, signalledAt, HARD_EXIT_MS + 1000);
    expect(exit).toBeDefined();
    expect(exit!.code).toBe(0);
    expect(exit!.at - signalledAt).toBeLessThan(DRAIN_MS + GRACE_MS + 1000);
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('a second %s exits at once with %i', async (signal, code) => {
    const { child, url } = await started();
    child.kill(signal);
    // Draining: readiness fails while the server still serves.
    for (let tries = 0; (await send(`${url}/health/ready`)).status !== 503; tries++) {
      expect(tries).toBeLessThan(40);
      await delay(25);
    }

    const secondAt = Date.now();
    child.kill(signal);
    const exit = await exitWithin(server!, secondAt, 1000);
    expect(exit).toBeDefined();
    expect(exit!.code).toBe(code);
    expect(exit!.at - secondAt).toBeLessThan(500);
  });

  it('a shutdown that never finishes is cut off at drain + grace + 1 s, exit 1', async () => {
    const { child } = await started({ KEEL_TEST_STUCK_SHUTDOWN: '1' });
    const signalledAt = Date.now();
    child.kill('SIGTERM');

    const exit = await exitWithin(server!, signalledAt, HARD_EXIT_MS + 1000);
    expect(exit).toBeDefined();
    expect(exit!.code).toBe(1);
    expect(exit!.at - signalledAt).toBeGreaterThanOrEqual(HARD_EXIT_MS - 50);
    const messages = server!.logs.map((line) => String(line.msg));
    expect(messages).toContain(
      `Shutdown did not finish within ${HARD_EXIT_MS} ms of SIGTERM: exiting now`,
    );
  });

  it('SIGHUP is ignored with one log line: the server keeps serving, SIGTERM still drains', async () => {
    const { child, url } = await started();
    child.kill('SIGHUP');
    await delay(300);
    expect(child.exitCode).toBeNull();
    expect((await send(`${url}/health/ready`)).status).toBe(200);
    const hangups = server!.logs.filter((line) => /SIGHUP/.test(String(line.msg)));
    expect(hangups).toHaveLength(1);
    expect(hangups[0]).toMatchObject({ level: 30, context: 'GracefulShutdown' });

    const signalledAt = Date.now();
    child.kill('SIGTERM');
    const exit = await exitWithin(server!, signalledAt, HARD_EXIT_MS + 1000);
    expect(exit?.code).toBe(0);
  });
});
