import { setTimeout as delay } from 'node:timers/promises';
import request from 'supertest';
import { TaskSupervisor, type TaskStatus } from '../../src/tasks/task-supervisor.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A module's background task keeps throwing. What Kubernetes and the operator see: restarts
// with backoff in /api/runtime, and liveness failing only for a critical task past its budget.

interface Observation {
  at: number;
  task: TaskStatus;
}

async function taskStatus(keel: TestApp, name: string): Promise<TaskStatus> {
  const response = await keel.admin!.get('/api/runtime').expect(200);
  const task = (response.body.tasks as TaskStatus[]).find((entry) => entry.name === name);
  if (!task) throw new Error(`/api/runtime does not list ${name}`);
  return task;
}

describe('a critical task that keeps throwing', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('is restarted with growing backoff, then fails liveness naming it while the rest still answers', async () => {
    keel.app.get(TaskSupervisor).registerPeriodic({
      name: 'flaky-sweeper',
      critical: true,
      intervalMs: 60_000,
      timeoutMs: null,
      backoff: { initialMs: 200, maxMs: 5000 },
      restartBudget: { maxCrashes: 3, windowMs: 60_000 },
      run: async () => {
        throw new Error('sweep query failed');
      },
    });

    // Crashes at about 0, 200, 600 and 1400 ms; the fourth exhausts the budget of three.
    // Polled every 15 ms, so each crash (shown for 200 ms or more) is seen.
    const seen: Observation[] = [];
    let livenessWhileRestarting: number | undefined;
    const deadline = Date.now() + 8000;
    for (;;) {
      const task = await taskStatus(keel, 'flaky-sweeper');
      seen.push({ at: Date.now(), task });
      if (task.state === 'backing-off' && livenessWhileRestarting === undefined) {
        livenessWhileRestarting = (await request(keel.url).get('/health/live')).status;
      }
      if (task.state === 'failed' || Date.now() > deadline) break;
      await delay(15);
    }

    expect(livenessWhileRestarting).toBe(200);
    const final = seen.at(-1)!.task;
    expect(final).toEqual({
      name: 'flaky-sweeper',
      critical: true,
      state: 'failed',
      restarts: 3,
      lastError: { message: 'sweep query failed', at: expect.any(String) },
    });
    // The crash times /api/runtime reported (lastError.at): the waits between them double.
    const crashTimes = [...new Set(seen.map((o) => o.task.lastError?.at).filter(Boolean))].map(
      (at) => Date.parse(at!),
    );
    expect(crashTimes).toHaveLength(4);
    const waits = crashTimes.slice(1).map((at, index) => at - crashTimes[index]!);
    expect(waits[0]).toBeGreaterThanOrEqual(195);
    expect(waits[1]).toBeGreaterThanOrEqual(395);
    expect(waits[2]).toBeGreaterThanOrEqual(795);
    expect(waits[2]! / waits[0]!).toBeGreaterThan(2.5);
    expect(seen.some((o) => o.task.state === 'backing-off')).toBe(true);

    const live = await request(keel.url).get('/health/live').expect(503);
    expect(live.body.status).toBe('error');
    expect(live.body.error).toEqual({
      process: {
        status: 'down',
        message: 'critical task "flaky-sweeper" crashed 4 times within 60 s: sweep query failed',
        since: expect.any(String),
      },
      'task:flaky-sweeper': {
        status: 'down',
        state: 'failed',
        restarts: 3,
        message: 'exhausted its restart budget: sweep query failed',
      },
    });

    // Alive enough to report: readiness and the API still answer.
    await request(keel.url).get('/health/ready').expect(200);
    const runtime = await keel.admin!.get('/api/runtime').expect(200);
    expect(runtime.body.phase).toBe('ready');

    // The crashes were logged with their error.
    const crashLines = keel.logs.filter(
      (line) => line.context === 'TaskSupervisor' && /flaky-sweeper/.test(String(line.msg)),
    );
    expect(crashLines).toHaveLength(4);
    expect(crashLines.every((line) => /sweep query failed/.test(String(line.msg)))).toBe(true);
  });
});

describe('a non-critical task that keeps throwing', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('never fails liveness, however often it crashes', async () => {
    keel.app.get(TaskSupervisor).registerPeriodic({
      name: 'usage-report',
      critical: false,
      intervalMs: 60_000,
      timeoutMs: null,
      backoff: { initialMs: 10, maxMs: 40 },
      restartBudget: { maxCrashes: 2, windowMs: 60_000 },
      run: async () => {
        throw new Error('report endpoint returned 500');
      },
    });
    const deadline = Date.now() + 5000;
    let task = await taskStatus(keel, 'usage-report');
    while (task.restarts < 6 && Date.now() < deadline) {
      await delay(20);
      task = await taskStatus(keel, 'usage-report');
    }
    expect(task.restarts).toBeGreaterThanOrEqual(6); // well past its budget of 2
    expect(task.state).not.toBe('failed');

    const live = await request(keel.url).get('/health/live').expect(200);
    expect(live.body).toEqual({
      status: 'ok',
      info: { process: { status: 'up' } },
      error: {},
      details: { process: { status: 'up' } },
    });
  });
});
