import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { type BuiltAppProcess, send, startBuiltApp } from '../support/built-app-process.js';

// What Kubernetes relies on when it deletes a pod: SIGTERM makes readiness fail at once, the
// server keeps serving through the drain, requests in flight finish, keep-alive connections
// are told to close, and the process exits 0 within SHUTDOWN_DRAIN_MS + SHUTDOWN_GRACE_MS
// (which terminationGracePeriodSeconds covers). The real built server, as a child process.

const SLOW_MS = 500;

describe('graceful drain on SIGTERM', () => {
  let server: BuiltAppProcess | undefined;
  const agents: http.Agent[] = [];
  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    await server?.cleanup();
    server = undefined;
  });

  it('finishes 50 in-flight keep-alive requests, fails readiness during the drain, exits 0', async () => {
    const drainMs = 1000;
    const graceMs = 3000;
    server = await startBuiltApp({
      SHUTDOWN_DRAIN_MS: String(drainMs),
      SHUTDOWN_GRACE_MS: String(graceMs),
    });
    const { url } = server;
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 50 });
    agents.push(keepAlive);

    // Open 50 keep-alive connections, then put a slow request in flight on each.
    const warm = await Promise.all(
      Array.from({ length: 50 }, () => send(`${url}/test/slow?ms=50`, { agent: keepAlive })),
    );
    expect(warm.every((answer) => answer.headers.connection === 'keep-alive')).toBe(true);
    const inFlight = Array.from({ length: 50 }, () =>
      send(`${url}/test/slow?ms=${SLOW_MS}`, { agent: keepAlive }),
    );
    await delay(150);

    const sigtermAt = Date.now();
    server.child.kill('SIGTERM');

    // Poll readiness on fresh connections until the server stops accepting them.
    const probes: { status: number; at: number }[] = [];
    let servedDuringDrain: Awaited<ReturnType<typeof send>> | undefined;
    let refusedAt: number;
    for (;;) {
      try {
        const probe = await send(`${url}/health/ready`, { agent: false });
        probes.push({ status: probe.status, at: Date.now() - sigtermAt });
        if (!servedDuringDrain && Date.now() - sigtermAt > 300) {
          servedDuringDrain = await send(`${url}/test/slow?ms=10`, { agent: false });
        }
      } catch {
        refusedAt = Date.now() - sigtermAt; // connection refused: the drain is over
        break;
      }
      await delay(25);
    }

    const answers = await Promise.all(inFlight);
    const exit = await server.exited;

    // Every in-flight request completed, after the signal, and was told to close its connection.
    expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(200));
    expect(
      answers.every((answer) => (answer.body as { sleptMs: number }).sleptMs === SLOW_MS),
    ).toBe(true);
    expect(answers.every((answer) => answer.endedAt > sigtermAt)).toBe(true);
    expect(answers.every((answer) => answer.headers.connection === 'close')).toBe(true);

    // Readiness failed at once and stayed failed; other requests were still served meanwhile.
    const firstFailure = probes.findIndex((probe) => probe.status === 503);
    expect(firstFailure).toBeGreaterThanOrEqual(0);
    expect(probes[firstFailure]!.at).toBeLessThan(300);
    expect(probes.slice(firstFailure).every((probe) => probe.status === 503)).toBe(true);
    // Kept accepting connections through the drain: the first refused came at its end. (When
    // the last probe answered depends on how long each took on a loaded machine.)
    expect(refusedAt).toBeGreaterThanOrEqual(drainMs - 50);
    expect(servedDuringDrain?.status).toBe(200);
    expect(servedDuringDrain?.headers.connection).toBe('close');

    // Exit 0, after the drain and well within drain + grace: no connection had to be forced.
    expect(exit.code).toBe(0);
    const exitAfter = exit.at - sigtermAt;
    expect(exitAfter).toBeGreaterThanOrEqual(drainMs - 50);
    expect(exitAfter).toBeLessThan(drainMs + graceMs);
    const messages = server.logs.map((line) => String(line.msg));
    expect(messages).toContain('Shutdown complete');
    expect(messages.some((message) => /Grace period .* over/.test(message))).toBe(false);
  });

  it('cuts off a request that outlasts the grace period and still exits 0 in time', async () => {
    const drainMs = 200;
    const graceMs = 800;
    server = await startBuiltApp({
      SHUTDOWN_DRAIN_MS: String(drainMs),
      SHUTDOWN_GRACE_MS: String(graceMs),
    });
    const endless = send(`${server.url}/test/slow?ms=30000`, { agent: false }).then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code ?? error.message,
    );
    await delay(100);
    const sigtermAt = Date.now();
    server.child.kill('SIGTERM');

    expect(await endless).toBe('ECONNRESET');
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sigtermAt).toBeGreaterThanOrEqual(drainMs + graceMs - 50);
    expect(exit.at - sigtermAt).toBeLessThan(drainMs + graceMs + 1000);
    const messages = server.logs.map((line) => String(line.msg));
    expect(messages).toContain(
      'Grace period of 800 ms over: closing connections with 1 request(s) still in flight',
    );
  });
});
