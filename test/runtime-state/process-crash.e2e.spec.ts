import { type BuiltAppProcess, send, startBuiltApp } from '../support/built-app-process.js';

// The process-wide error handlers serve() installs, in the real built server.

describe('errors nothing caught', () => {
  let server: BuiltAppProcess | undefined;
  afterEach(async () => {
    await server?.cleanup();
    server = undefined;
  });

  it('an unhandled rejection marks the process broken: liveness 503 naming it, still serving', async () => {
    server = await startBuiltApp({ SHUTDOWN_DRAIN_MS: '0', SHUTDOWN_GRACE_MS: '1000' });
    await send(`${server.url}/health/live`).then((answer) => expect(answer.status).toBe(200));

    await send(`${server.url}/test/unhandled-rejection`, { method: 'POST' });

    const live = await send(`${server.url}/health/live`);
    expect(live.status).toBe(503);
    expect(live.body).toMatchObject({
      status: 'error',
      error: {
        process: {
          status: 'down',
          message: 'unhandled promise rejection: nobody handles this rejection',
        },
      },
    });
    expect((await send(`${server.url}/health/ready`)).status).toBe(200);
    expect((await send(`${server.url}/test/slow?ms=1`)).status).toBe(200);
    expect(
      server.logs.some(
        (line) => line.msg === 'Unhandled promise rejection: nobody handles this rejection',
      ),
    ).toBe(true);

    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('an uncaught exception is logged and the process exits non-zero', async () => {
    server = await startBuiltApp();
    await send(`${server.url}/test/uncaught-exception`, { method: 'POST' });
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    const line = server.logs.find((entry) =>
      String(entry.msg).startsWith('Uncaught exception, exiting'),
    );
    expect(line?.msg).toBe('Uncaught exception, exiting: thrown outside any request');
    expect(JSON.stringify(line)).toMatch(/thrown outside any request\\n\s+at /); // with its stack
  });
});
