import { hostname } from 'node:os';
import request from 'supertest';
import {
  LISTENER_FAILURES_KEPT,
  RuntimeStateService,
} from '../../src/runtime-state/runtime-state.service.js';
import { TaskSupervisor } from '../../src/tasks/task-supervisor.js';
import { createUser, signIn } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('GET /api/runtime', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('answers the contract: instance, phase, session cache, tasks, instances', async () => {
    const response = await keel.admin!.get('/api/runtime').expect(200);
    expect(response.body).toEqual({
      instanceId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      startedAt: expect.any(String),
      phase: 'ready',
      sessionCache: {
        backend: 'memory',
        desired: 'memory',
        shared: false,
        swapping: false,
        progress: null,
        lastSwap: null,
      },
      tasks: expect.any(Array),
      instances: [
        {
          instanceId: response.body.instanceId,
          startedAt: response.body.startedAt,
          phase: 'ready',
          host: hostname(),
          pid: process.pid,
          version: expect.stringMatching(/^\d+\.\d+\.\d+/),
          sessionBackend: 'memory',
          heartbeatAt: expect.any(String),
          // What other replicas' consoles show of this one (the registry's `report`).
          settingsVersion: expect.any(Number),
          sessionCacheStatus: response.body.sessionCache,
          tasks: response.body.tasks,
        },
      ],
      listenerFailures: [],
      invalidSettings: [],
    });
    expect(new Date(response.body.startedAt).getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('shows tasks, the session cache and listener failures as their modules publish them', async () => {
    const runtime = keel.app.get(RuntimeStateService);
    keel.app.get(TaskSupervisor).registerLongLived({
      name: 'settings-subscriber',
      critical: true,
      run: ({ signal }) =>
        new Promise((resolve) => signal.addEventListener('abort', () => resolve())),
    });
    const status = {
      backend: 'redis',
      desired: 'redis',
      shared: true,
      swapping: false,
      progress: null,
      lastSwap: {
        from: 'memory',
        to: 'redis',
        at: '2026-01-01T00:00:00.000Z',
        migrated: 12,
        durationMs: 40,
      },
    } as const;
    runtime.setSessionCacheStatus(status);
    for (let n = 0; n < LISTENER_FAILURES_KEPT + 5; n += 1) {
      runtime.reportListenerFailure('settings.changed', new Error(`apply failed #${n}`));
    }

    const response = await keel.admin!.get('/api/runtime').expect(200);
    expect(response.body.tasks).toContainEqual({
      name: 'settings-subscriber',
      critical: true,
      state: 'running',
      restarts: 0,
      lastError: null,
    });
    expect(response.body.sessionCache).toEqual(status);
    // Bounded: the newest failures, oldest first.
    expect(response.body.listenerFailures).toHaveLength(LISTENER_FAILURES_KEPT);
    expect(response.body.listenerFailures.at(-1)).toEqual({
      source: 'settings.changed',
      message: `apply failed #${LISTENER_FAILURES_KEPT + 4}`,
      at: expect.any(String),
    });
    // A listener failure is reported, not fatal.
    await request(keel.url).get('/health/live').expect(200);
  });
});

describe('GET /api/runtime without an admin', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp();
  });
  afterAll(async () => {
    await keel.close();
  });

  it('is refused (admin only), with the contract error shape', async () => {
    const anonymous = await request(keel.url).get('/api/runtime').expect(401);
    expect(anonymous.body).toEqual({
      statusCode: 401,
      code: 'unauthenticated',
      message: expect.any(String),
    });
    await createUser(keel, 'member', 'member');
    const member = await signIn(keel, 'member');
    const forbidden = await member.get('/api/runtime').expect(403);
    expect(forbidden.body).toEqual({
      statusCode: 403,
      code: 'forbidden',
      message: expect.any(String),
    });
    for (const response of [anonymous, forbidden]) {
      expect(response.body.instanceId).toBeUndefined();
    }
  });
});
