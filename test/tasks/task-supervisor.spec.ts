import { Logger, type LoggerService } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import {
  type TaskContext,
  TaskSupervisor,
  type TaskStatus,
} from '../../src/tasks/task-supervisor.js';

// The supervisor's decisions, with its one collaborator built by hand. Timings are small
// (tens of ms) and assertions leave room for a loaded machine.

const logged: { level: string; message: string }[] = [];
const capture: LoggerService = {
  log: (message: string) => logged.push({ level: 'log', message }),
  error: (message: string) => logged.push({ level: 'error', message }),
  warn: (message: string) => logged.push({ level: 'warn', message }),
  debug: (message: string) => logged.push({ level: 'debug', message }),
  verbose: () => undefined,
  fatal: (message: string) => logged.push({ level: 'fatal', message }),
};
Logger.overrideLogger(capture);

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await delay(5);
  }
}

describe('TaskSupervisor', () => {
  let runtime: RuntimeStateService;
  let supervisor: TaskSupervisor;
  beforeEach(() => {
    logged.length = 0;
    runtime = new RuntimeStateService();
    supervisor = new TaskSupervisor(runtime);
  });
  afterEach(async () => {
    await supervisor.stopAll();
  });

  function status(name: string): TaskStatus {
    const found = supervisor.statuses().find((task) => task.name === name);
    if (!found) throw new Error(`no task ${name}`);
    return found;
  }

  it('starts tasks only once the instance is ready (after migrations), then runs them periodically', async () => {
    let runs = 0;
    supervisor.registerPeriodic({
      name: 'sweeper',
      critical: false,
      intervalMs: 20,
      timeoutMs: null,
      run: async () => {
        runs += 1;
      },
    });
    await delay(60);
    expect(runs).toBe(0);
    expect(status('sweeper').state).toBe('pending');
    runtime.markReady();
    await waitFor(() => runs >= 3);
    expect(status('sweeper')).toEqual({
      name: 'sweeper',
      critical: false,
      state: 'running',
      restarts: 0,
      lastError: null,
    });
  });

  it('logs a crash with its error and restarts with exponential backoff, capped', async () => {
    runtime.markReady();
    const runAt: number[] = [];
    supervisor.registerPeriodic({
      name: 'flaky',
      critical: false,
      intervalMs: 10_000,
      timeoutMs: null,
      backoff: { initialMs: 40, maxMs: 160 },
      restartBudget: { maxCrashes: 100, windowMs: 60_000 },
      run: async () => {
        runAt.push(Date.now());
        throw new Error('disk on fire');
      },
    });
    await waitFor(() => runAt.length >= 6);
    const errors = logged.filter((line) => line.level === 'error').map((line) => line.message);
    expect(errors[0]).toBe(
      'Task "flaky" crashed (1 within 60 s); restarting in 40 ms: disk on fire',
    );
    // The delays it chose: doubling, then capped.
    const chosen = errors
      .slice(0, 5)
      .map((message) => Number(/restarting in (\d+) ms/.exec(message)![1]));
    expect(chosen).toEqual([40, 80, 160, 160, 160]);
    // And kept, on the whole. (Not gap by gap: Node schedules a timer from the event loop's
    // cached clock, so on a busy loop one may fire a few ms early by Date.now.)
    const waited = runAt[5]! - runAt[0]!;
    expect(waited).toBeGreaterThanOrEqual(chosen.reduce((sum, ms) => sum + ms, 0) - 50);
    const task = status('flaky');
    expect(task.restarts).toBeGreaterThanOrEqual(5);
    expect(task.lastError).toEqual({ message: 'disk on fire', at: expect.any(String) });
  });

  it('starts the backoff over after a successful run', async () => {
    runtime.markReady();
    const outcomes = ['crash', 'crash', 'crash', 'ok', 'crash'];
    supervisor.registerPeriodic({
      name: 'recovers',
      critical: false,
      intervalMs: 5,
      timeoutMs: null,
      backoff: { initialMs: 5, maxMs: 1000 },
      run: async () => {
        if (outcomes.shift() === 'crash') throw new Error('transient');
      },
    });
    await waitFor(() => outcomes.length === 0 && status('recovers').restarts === 4);
    const chosen = logged
      .filter((line) => line.level === 'error')
      .map((line) => Number(/restarting in (\d+) ms/.exec(line.message)![1]));
    expect(chosen).toEqual([5, 10, 20, 5]);
  });

  it('turns a synchronous throw and a non-Error rejection into counted crashes', async () => {
    runtime.markReady();
    const backoff = { initialMs: 10, maxMs: 10 };
    supervisor.registerPeriodic({
      name: 'throws-synchronously',
      critical: false,
      intervalMs: 10_000,
      timeoutMs: null,
      backoff,
      run: (() => {
        throw new Error('not even a promise');
      }) as () => Promise<void>,
    });
    supervisor.registerPeriodic({
      name: 'rejects-with-a-string',
      critical: false,
      intervalMs: 10_000,
      timeoutMs: null,
      backoff,
      run: () => Promise.reject('plain string'),
    });
    await waitFor(() => supervisor.statuses().every((task) => task.restarts >= 2));
    expect(status('throws-synchronously').lastError?.message).toBe('not even a promise');
    expect(status('rejects-with-a-string').lastError?.message).toBe('plain string');
    expect(runtime.broken).toBeNull();
  });

  it('gives up on a critical task past its budget and marks the process broken naming it', async () => {
    runtime.markReady();
    let runs = 0;
    supervisor.registerPeriodic({
      name: 'session-sweeper',
      critical: true,
      intervalMs: 10_000,
      timeoutMs: null,
      backoff: { initialMs: 10, maxMs: 20 },
      restartBudget: { maxCrashes: 3, windowMs: 60_000 },
      run: async () => {
        runs += 1;
        throw new Error('relation "sessions" does not exist');
      },
    });
    await waitFor(() => status('session-sweeper').state === 'failed');
    expect(runs).toBe(4); // three crashes restarted, the fourth exhausts the budget
    expect(status('session-sweeper').restarts).toBe(3);
    expect(runtime.broken?.reason).toBe(
      'critical task "session-sweeper" crashed 4 times within 60 s: relation "sessions" does not exist',
    );
    await delay(80);
    expect(runs).toBe(4);
  });

  it('keeps restarting a non-critical task past its budget, at the capped backoff, and never marks the process broken', async () => {
    runtime.markReady();
    let runs = 0;
    supervisor.registerPeriodic({
      name: 'metrics-push',
      critical: false,
      intervalMs: 10_000,
      timeoutMs: null,
      backoff: { initialMs: 5, maxMs: 15 },
      restartBudget: { maxCrashes: 1, windowMs: 60_000 },
      run: async () => {
        runs += 1;
        throw new Error('push gateway down');
      },
    });
    await waitFor(() => runs >= 6);
    expect(status('metrics-push').state).not.toBe('failed');
    expect(runtime.broken).toBeNull();
  });

  it('counts a long-lived task that returns on its own as a crash and restarts it', async () => {
    runtime.markReady();
    let starts = 0;
    supervisor.registerLongLived({
      name: 'subscriber',
      critical: false,
      backoff: { initialMs: 10, maxMs: 10 },
      run: async () => {
        starts += 1;
      },
    });
    await waitFor(() => starts >= 3);
    expect(status('subscriber').lastError?.message).toBe('returned while it should keep running');
  });

  it('aborts a run that passes its deadline, counts it as a crash and restarts with backoff', async () => {
    runtime.markReady();
    const signals: AbortSignal[] = [];
    supervisor.registerPeriodic({
      name: 'heartbeat',
      critical: false,
      intervalMs: 10,
      timeoutMs: 40,
      backoff: { initialMs: 30, maxMs: 120 },
      // Hangs until its signal aborts, then gives up: a query raced against the signal.
      run: ({ signal }) => {
        signals.push(signal);
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason as Error)),
        );
      },
    });
    await waitFor(() => signals.length >= 4);
    expect(signals.slice(0, 3).every((signal) => signal.aborted)).toBe(true);
    const task = status('heartbeat');
    expect(task.restarts).toBeGreaterThanOrEqual(3);
    expect(task.lastError?.message).toBe('run passed its deadline of 40 ms and was aborted');
    // Each restart after a doubling backoff, capped: 30, 60, 120, 120 ms (the log says so).
    const delays = logged
      .filter((line) => line.level === 'error')
      .map(
        (line) =>
          /restarting in (\d+) ms: run passed its deadline of 40 ms/.exec(line.message)?.[1],
      );
    expect(delays.slice(0, 3)).toEqual(['30', '60', '120']);
    expect(runtime.broken).toBeNull();
  });

  it('never starts a run while one abandoned at its deadline is still out; counts each attempt', async () => {
    runtime.markReady();
    let starts = 0;
    let out = 0;
    let mostOut = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    supervisor.registerPeriodic({
      name: 'stalled-query',
      critical: false,
      intervalMs: 10,
      timeoutMs: 30,
      backoff: { initialMs: 10, maxMs: 10 },
      // The first run ignores its signal, as a query on a stalled connection does.
      run: async () => {
        starts += 1;
        out += 1;
        mostOut = Math.max(mostOut, out);
        try {
          if (starts === 1) await released;
        } finally {
          out -= 1;
        }
      },
    });
    await waitFor(() => status('stalled-query').restarts >= 3);
    expect(starts).toBe(1);
    expect(status('stalled-query').lastError?.message).toBe(
      'its previous run, aborted at its 30 ms deadline, has still not returned',
    );
    release();
    await waitFor(() => starts >= 3);
    expect(mostOut).toBe(1);
    await waitFor(() => status('stalled-query').state === 'running');
  });

  it('a critical task whose runs keep hanging exhausts its budget and marks the process broken', async () => {
    runtime.markReady();
    supervisor.registerPeriodic({
      name: 'hung-export',
      critical: true,
      intervalMs: 10,
      timeoutMs: 20,
      backoff: { initialMs: 5, maxMs: 5 },
      restartBudget: { maxCrashes: 2, windowMs: 60_000 },
      run: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    });
    await waitFor(() => status('hung-export').state === 'failed');
    expect(status('hung-export').restarts).toBe(2);
    expect(runtime.broken?.reason).toMatch(
      /critical task "hung-export" crashed 3 times .*deadline of 20 ms/,
    );
  });

  it('never aborts a run within its deadline, nor one of a task that has none', async () => {
    runtime.markReady();
    const finished: string[] = [];
    const aborted: string[] = [];
    const slowRun =
      (name: string, ms: number) =>
      async ({ signal }: TaskContext) => {
        await delay(ms);
        if (signal.aborted) aborted.push(name);
        finished.push(name);
      };
    supervisor.registerPeriodic({
      name: 'quick-enough',
      critical: true,
      intervalMs: 10,
      timeoutMs: 500,
      run: slowRun('quick-enough', 40),
    });
    supervisor.registerPeriodic({
      name: 'long-swap',
      critical: true,
      intervalMs: 10,
      timeoutMs: null,
      run: slowRun('long-swap', 300),
    });
    await waitFor(() => finished.filter((name) => name === 'long-swap').length >= 2);
    expect(aborted).toEqual([]);
    for (const name of ['quick-enough', 'long-swap']) {
      expect(status(name)).toMatchObject({ restarts: 0, lastError: null });
    }
  });

  it('ignores what an abandoned run does once its deadline passed', async () => {
    runtime.markReady();
    let runs = 0;
    supervisor.registerPeriodic({
      name: 'late-reject',
      critical: false,
      intervalMs: 10,
      timeoutMs: 30,
      backoff: { initialMs: 10, maxMs: 10 },
      run: async ({ reportProgress }) => {
        runs += 1;
        // The first run outlives its deadline, then reports progress and fails: it was
        // counted once already, and speaks for the task no more.
        if (runs === 1) {
          await delay(100);
          reportProgress();
          throw new Error('late failure of an abandoned run');
        }
      },
    });
    await waitFor(() => runs >= 3);
    const task = status('late-reject');
    expect(task.state).toBe('running');
    expect(task.lastError?.message).toMatch(/deadline of 30 ms|has still not returned/);
    expect(JSON.stringify(logged)).not.toContain('late failure');
  });

  it('refuses a deadline that is not a positive number', () => {
    const run = async () => undefined;
    for (const timeoutMs of [0, -1, Number.NaN]) {
      expect(() =>
        supervisor.registerPeriodic({
          name: `bad-${timeoutMs}`,
          critical: false,
          intervalMs: 10,
          timeoutMs,
          run,
        }),
      ).toThrow(/timeoutMs must be positive or null/);
    }
  });

  it('stops every task on shutdown: signal aborted, no run after, timers cleared', async () => {
    runtime.markReady();
    let runs = 0;
    let aborted = false;
    supervisor.registerPeriodic({
      name: 'periodic',
      critical: false,
      intervalMs: 10,
      timeoutMs: null,
      run: async () => {
        runs += 1;
      },
    });
    supervisor.registerPeriodic({
      name: 'backing-off',
      critical: false,
      intervalMs: 10,
      timeoutMs: null,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
      run: async () => {
        throw new Error('down');
      },
    });
    supervisor.registerLongLived({
      name: 'listener',
      critical: false,
      run: ({ signal }) =>
        new Promise((resolve) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          }),
        ),
    });
    await waitFor(() => runs >= 2 && status('backing-off').state === 'backing-off');
    await supervisor.stopAll();
    const runsAtStop = runs;
    expect(aborted).toBe(true);
    expect(supervisor.statuses().map((task) => task.state)).toEqual([
      'stopped',
      'stopped',
      'stopped',
    ]);
    await delay(50);
    expect(runs).toBe(runsAtStop);
    // Stopping a task is not a crash, even when it throws on its way out.
    expect(status('listener').lastError).toBeNull();
  });

  it('does not let a task that ignores its abort signal hang shutdown', async () => {
    runtime.markReady();
    supervisor.registerLongLived({
      name: 'stubborn',
      critical: false,
      run: () => new Promise(() => undefined),
    });
    await delay(10);
    const started = Date.now();
    await supervisor.stopAll();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(logged.some((line) => /"stubborn" ignored its abort signal/.test(line.message))).toBe(
      true,
    );
  });

  it('rejects a second task with the same name', () => {
    const options = {
      name: 'twice',
      critical: false,
      intervalMs: 10,
      timeoutMs: null,
      run: async () => undefined,
    };
    supervisor.registerPeriodic(options);
    expect(() => supervisor.registerPeriodic(options)).toThrow(/already exists/);
  });
});
