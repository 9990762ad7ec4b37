import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import request from 'supertest';
import { MetricsServer } from '../../src/metrics/metrics-server.js';
import { TaskSupervisor } from '../../src/tasks/task-supervisor.js';
import { SessionCacheService } from '../../src/session-cache/session-cache.service.js';
import { SessionSwap } from '../../src/session-cache/session-swap.js';
import { login } from '../support/http-client.js';
import {
  type Exposition,
  parsePrometheusText,
  samplesOf,
  valueOf,
} from '../support/prometheus-text.js';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// What an operator's Prometheus sees: /metrics parsed as the text format, never searched as a
// string, after the things operators alert on have happened.

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';

async function scrape(keel: TestApp): Promise<Exposition> {
  const response = await request(keel.url)
    .get('/metrics')
    .set('Authorization', `Bearer ${METRICS_TOKEN}`)
    .expect(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(response.text);
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await delay(10);
  }
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('metrics after a login, a backend swap and a task crash', () => {
  let keel: TestApp;
  beforeAll(async () => {
    // `admin: true` signs the admin in through POST /api/auth/login.
    keel = await startTestApp({ admin: true, env: { METRICS_TOKEN } });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('shows each as counters and gauges with the right labels', async () => {
    const admin = keel.admin!;
    const { version } = (await admin.get('/api/settings').expect(200)).body as { version: number };
    const patched = await admin
      .patch('/api/settings', { values: { sessionCache: { backend: 'database' } } })
      .set('If-Match', `"${version}"`)
      .expect(200);
    const newVersion = patched.body.version as number;
    // A request on the new backend, with the admin's migrated session.
    await admin.get('/api/auth/me').expect(200);
    const cache = keel.app.get(SessionCacheService);
    const swapped = cache.status().lastSwap;
    expect(swapped).toMatchObject({ from: 'memory', to: 'database' });

    // A swap that fails: there is no REDIS_URL, and the database backend stays.
    await expect(
      keel.app
        .get(SessionSwap)
        .prepare('redis', { version: newVersion + 1, changedAt: Date.now() }),
    ).rejects.toThrow(/REDIS_URL/);

    // A background task that keeps crashing, restarted after a tiny backoff.
    const supervisor = keel.app.get(TaskSupervisor);
    supervisor.registerPeriodic({
      name: 'flaky-export',
      critical: false,
      intervalMs: 60_000,
      timeoutMs: null,
      backoff: { initialMs: 10, maxMs: 20 },
      restartBudget: { maxCrashes: 1000, windowMs: 60_000 },
      run: async () => {
        throw new Error('export target unreachable');
      },
    });
    await waitFor(
      () =>
        (supervisor.statuses().find((task) => task.name === 'flaky-export')?.restarts ?? 0) >= 2,
    );

    const metrics = await scrape(keel);

    // HTTP: the login, by route template, method and status; counter and histogram agree.
    expect(metrics.types.get('http_requests_total')).toBe('counter');
    expect(metrics.types.get('http_request_duration_seconds')).toBe('histogram');
    const loginLabels = { method: 'POST', route: '/api/auth/login', status: '200' };
    expect(valueOf(metrics, 'http_requests_total', loginLabels)).toBe(1);
    expect(valueOf(metrics, 'http_request_duration_seconds_count', loginLabels)).toBe(1);
    expect(
      valueOf(metrics, 'http_request_duration_seconds_bucket', { ...loginLabels, le: '+Inf' }),
    ).toBe(1);
    expect(valueOf(metrics, 'http_request_duration_seconds_sum', loginLabels)).toBeGreaterThan(0);
    expect(
      valueOf(metrics, 'http_requests_total', {
        method: 'PATCH',
        route: '/api/settings',
        status: '200',
      }),
    ).toBe(1);

    // Session cache: database active, one successful and one failed swap, the session moved.
    expect(valueOf(metrics, 'keel_session_cache_backend', { backend: 'database' })).toBe(1);
    expect(valueOf(metrics, 'keel_session_cache_backend', { backend: 'memory' })).toBe(0);
    expect(valueOf(metrics, 'keel_session_cache_backend', { backend: 'redis' })).toBe(0);
    expect(valueOf(metrics, 'keel_session_cache_shared')).toBe(1);
    expect(valueOf(metrics, 'keel_session_cache_swap_in_progress')).toBe(0);
    expect(valueOf(metrics, 'keel_session_cache_swaps_total', { outcome: 'success' })).toBe(1);
    expect(valueOf(metrics, 'keel_session_cache_swaps_total', { outcome: 'failure' })).toBe(1);
    expect(valueOf(metrics, 'keel_session_cache_swap_duration_seconds_count')).toBe(2);
    const migrated = swapped!.migrated;
    expect(migrated).toBeGreaterThanOrEqual(1);
    expect(valueOf(metrics, 'keel_session_cache_sessions_migrated_total')).toBe(migrated);
    // The login wrote its session to memory; after the swap the session is read from the database.
    expect(
      valueOf(metrics, 'keel_session_cache_operations_total', {
        backend: 'memory',
        operation: 'put',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      valueOf(metrics, 'keel_session_cache_operations_total', {
        backend: 'database',
        operation: 'get',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      samplesOf(metrics, 'keel_session_cache_errors_total').filter((sample) => sample.value > 0),
    ).toEqual([]);

    // The crashing task: crashes, restarts, and one current state.
    const crashes = valueOf(metrics, 'keel_task_crashes_total', { task: 'flaky-export' });
    const restarts = valueOf(metrics, 'keel_task_restarts_total', { task: 'flaky-export' });
    expect(restarts).toBeGreaterThanOrEqual(2);
    expect(crashes).toBeGreaterThanOrEqual(restarts);
    expect(crashes).toBeLessThanOrEqual(restarts + 1);
    const states = samplesOf(metrics, 'keel_task_state', { task: 'flaky-export' });
    expect(states.map((sample) => sample.labels.state).sort()).toEqual([
      'backing-off',
      'failed',
      'pending',
      'running',
      'stopped',
    ]);
    expect(states.filter((sample) => sample.value === 1)).toHaveLength(1);
    expect(states.find((sample) => sample.value === 1)?.labels.state).toMatch(
      /^(running|backing-off)$/,
    );
    // The session sweeper is supervised too, and healthy.
    expect(valueOf(metrics, 'keel_task_crashes_total', { task: 'session-sweeper' })).toBe(0);

    // Settings, phase, replicas, liveness.
    expect(valueOf(metrics, 'keel_settings_version')).toBe(newVersion);
    expect(valueOf(metrics, 'keel_phase', { phase: 'ready' })).toBe(1);
    expect(valueOf(metrics, 'keel_phase', { phase: 'starting' })).toBe(0);
    expect(valueOf(metrics, 'keel_phase', { phase: 'draining' })).toBe(0);
    expect(valueOf(metrics, 'keel_replicas_live')).toBe(1);
    expect(valueOf(metrics, 'keel_setup_completed')).toBe(1);
    expect(valueOf(metrics, 'keel_process_broken')).toBe(0);

    // The default Node process metrics.
    expect(metrics.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(valueOf(metrics, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(metrics, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(metrics.types.get('nodejs_eventloop_lag_p99_seconds')).toBe('gauge');
    expect(metrics.types.get('nodejs_gc_duration_seconds')).toBe('histogram');
  });

  it('logged the settings change, the swaps and the phase as structured lines', () => {
    const settingsLine = keel.logs.find(
      (line) => line.context === 'SettingsService' && line.settings,
    );
    expect(settingsLine?.settings).toEqual({
      version: expect.any(Number),
      changedBy: expect.any(String),
      changedKeys: ['sessionCache.backend'],
      changes: { 'sessionCache.backend': { from: 'memory', to: 'database' } },
    });
    const swaps = keel.logs
      .filter((line) => line.context === 'SessionCacheService' && line.swap)
      .map((line) => line.swap);
    expect(swaps).toEqual([
      {
        from: 'memory',
        to: 'database',
        origin: 'local',
        migrated: expect.any(Number),
        durationMs: expect.any(Number),
        outcome: 'success',
      },
      {
        // Asked of the swap directly: through the API a change to redis is refused by its
        // preflight here (no REDIS_URL), before any swap.
        from: 'database',
        to: 'redis',
        origin: 'local',
        migrated: 0,
        durationMs: expect.any(Number),
        outcome: 'failure',
        error: expect.stringMatching(/REDIS_URL/),
      },
    ]);
    const phases = keel.logs.filter((line) => line.context === 'RuntimeStateService' && line.phase);
    expect(phases.map((line) => [line.previousPhase, line.phase])).toEqual([['starting', 'ready']]);
  });
});

describe('route labels', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true, env: { METRICS_TOKEN } });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('are route templates, so 1,000 distinct ids do not add series', async () => {
    const admin = keel.admin!;
    const randomId = () => crypto.randomUUID();
    const distinct = async (count: number, send: (id: string) => Promise<unknown>) => {
      for (let batch = 0; batch < count; batch += 25) {
        await Promise.all(
          Array.from({ length: Math.min(25, count - batch) }, () => send(randomId())),
        );
      }
    };
    // Each kind of request once, and a scrape, so every series they make exists already.
    await admin.delete(`/api/auth/sessions/${randomId()}`).expect(404);
    await request(keel.url).get(`/api/no-such-route/${randomId()}`).expect(404);
    await scrape(keel);
    const httpSeries = (metrics: Exposition) =>
      metrics.samples.filter((sample) => sample.name.startsWith('http_'));
    const before = httpSeries(await scrape(keel));

    await distinct(1000, (id) => admin.delete(`/api/auth/sessions/${id}`).expect(404));
    await distinct(200, (id) => request(keel.url).get(`/api/no-such-route/${id}`).expect(404));

    const after = await scrape(keel);
    expect(httpSeries(after)).toHaveLength(before.length);
    const routes = new Set(httpSeries(after).map((sample) => sample.labels.route));
    expect(routes).toContain('/api/auth/sessions/:id');
    expect(routes).toContain('unmatched');
    expect([...routes].filter((route) => /[0-9a-f]{8}-[0-9a-f]{4}/.test(route ?? ''))).toEqual([]);
    expect(
      valueOf(after, 'http_requests_total', {
        method: 'DELETE',
        route: '/api/auth/sessions/:id',
        status: '404',
      }),
    ).toBe(1001);
    expect(
      valueOf(after, 'http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }),
    ).toBe(201);
  });
});

describe('who may read /metrics', () => {
  it('with METRICS_TOKEN: 401 in the contract shape without it or with a wrong one, 200 with it', async () => {
    // Before first-run setup, too: /metrics is never behind the setup gate.
    const keel = await startTestApp({ env: { METRICS_TOKEN }, completeSetup: false });
    try {
      for (const authorization of [
        undefined,
        'Bearer wrong-token-0123456789abcdef',
        METRICS_TOKEN,
      ]) {
        const call = request(keel.url).get('/metrics');
        if (authorization) call.set('Authorization', authorization);
        const response = await call.expect(401);
        expect(response.body).toEqual({
          statusCode: 401,
          code: 'unauthenticated',
          message: expect.any(String),
        });
        expect(response.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      }
      const response = await request(keel.url)
        .get('/metrics')
        .set('Authorization', `Bearer ${METRICS_TOKEN}`)
        .expect(200);
      expect(response.headers['set-cookie']).toBeUndefined();
      expect(valueOf(parsePrometheusText(response.text), 'keel_setup_completed')).toBe(0);
      await request(keel.url).get('/api/auth/me').expect(503);
    } finally {
      await keel.close();
    }
  });

  it('with neither variable: not served on the main port', async () => {
    const keel = await startTestApp();
    try {
      const response = await request(keel.url).get('/metrics').expect(404);
      expect(response.body).toMatchObject({ statusCode: 404, code: 'not_found' });
      expect(keel.app.get(MetricsServer).address).toBeUndefined();
    } finally {
      await keel.close();
    }
  });

  it('with METRICS_PORT: served on that port, not on the main one, and closed with the app', async () => {
    const port = await freePort();
    const keel = await startTestApp({ env: { METRICS_PORT: String(port), HOST: '127.0.0.1' } });
    const metricsUrl = `http://127.0.0.1:${port}`;
    try {
      expect(keel.app.get(MetricsServer).address?.port).toBe(port);
      const response = await request(metricsUrl).get('/metrics').expect(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const metrics = parsePrometheusText(response.text);
      expect(valueOf(metrics, 'keel_phase', { phase: 'ready' })).toBe(1);
      expect((await request(metricsUrl).get('/other').expect(404)).body).toMatchObject({
        code: 'not_found',
      });
      await request(keel.url).get('/metrics').expect(404);
    } finally {
      await keel.close();
    }
    await expect(fetch(`${metricsUrl}/metrics`)).rejects.toThrow();
  });
});

describe('request log lines', () => {
  it('carry the request id and the signed-in user id, never the session id or cookie', async () => {
    const keel = await startTestApp();
    try {
      const userId = await createUser(keel, 'logged-user');
      const session = await login(keel.url, 'logged-user', TEST_PASSWORD);
      const me = await fetch(`${keel.url}/api/auth/me`, {
        headers: { cookie: session.cookie, 'x-request-id': 'metrics-log-me' },
      });
      expect(me.status).toBe(200);
      await fetch(`${keel.url}/api/auth/csrf`, { headers: { 'x-request-id': 'metrics-log-anon' } });

      const lineOf = (id: string) =>
        keel.logs.find((line) => (line.req as { id?: string } | undefined)?.id === id);
      await waitFor(
        () => lineOf('metrics-log-me') !== undefined && lineOf('metrics-log-anon') !== undefined,
      );
      const line = lineOf('metrics-log-me');
      expect(line).toMatchObject({ userId, req: { id: 'metrics-log-me', url: '/api/auth/me' } });
      expect(lineOf('metrics-log-anon')).not.toHaveProperty('userId');

      const cookieValue = session.cookie.slice(session.cookie.indexOf('=') + 1);
      const sessionId = /^s:([^.]+)\./.exec(decodeURIComponent(cookieValue))![1]!;
      const text = JSON.stringify(keel.logs);
      expect(text).not.toContain(sessionId);
      expect(text).not.toContain(cookieValue);
    } finally {
      await keel.close();
    }
  });
});
