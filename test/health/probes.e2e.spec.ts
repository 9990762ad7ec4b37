import { Injectable, Module, type OnApplicationBootstrap } from '@nestjs/common';
import type { HealthCheckResult } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import { AppModule } from '../../src/app.module.js';
import { HealthProbes } from '../../src/health/health-probes.js';
import { HealthModule } from '../../src/health/health.module.js';
import { configureApp } from '../../src/app/configure-app.js';
import { ReadinessRegistry } from '../../src/runtime-state/readiness-registry.js';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

function expectTerminusShape(body: HealthCheckResult) {
  expect(Object.keys(body).sort()).toEqual(['details', 'error', 'info', 'status']);
}

describe('health probes over HTTP', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp();
  });
  afterAll(async () => {
    await keel.close();
  });

  it('liveness answers 200 naming its check, in the terminus shape', async () => {
    const response = await request(keel.url).get('/health/live').expect(200);
    expectTerminusShape(response.body);
    expect(response.body).toEqual({
      status: 'ok',
      info: { process: { status: 'up' } },
      error: {},
      details: { process: { status: 'up' } },
    });
  });

  it('readiness answers 200 naming the phase and the database', async () => {
    const response = await request(keel.url).get('/health/ready').expect(200);
    expectTerminusShape(response.body);
    expect(response.body.status).toBe('ok');
    expect(response.body.details).toEqual({
      phase: { status: 'up', phase: 'ready' },
      database: { status: 'up', responseTime: expect.any(Number) },
      sessionCache: { status: 'up', responseTime: expect.any(Number) },
      sessionCacheFollowsSettings: { status: 'up', responseTime: expect.any(Number) },
      sessionCacheShared: { status: 'up', responseTime: expect.any(Number) },
    });
  });

  it('startup answers 200 once the app is up', async () => {
    const response = await request(keel.url).get('/health/startup').expect(200);
    expect(response.body).toEqual({
      status: 'ok',
      info: { bootstrap: { status: 'up' } },
      error: {},
      details: { bootstrap: { status: 'up' } },
    });
  });

  it('a readiness check another module registers fails readiness by name, not liveness', async () => {
    const readiness = keel.app.get(ReadinessRegistry);
    const unregister = readiness.register('auditLog', async () => {
      throw new Error('redis://cache:6379 refused the connection');
    });
    try {
      const failing = await request(keel.url).get('/health/ready').expect(503);
      expectTerminusShape(failing.body);
      expect(failing.body.status).toBe('error');
      expect(failing.body.error).toEqual({
        auditLog: {
          status: 'down',
          message: 'redis://cache:6379 refused the connection',
          responseTime: expect.any(Number),
        },
      });
      // The healthy checks are still reported, so the operator sees what is and isn't wrong.
      expect(Object.keys(failing.body.info)).toEqual([
        'phase',
        'database',
        'sessionCache',
        'sessionCacheFollowsSettings',
        'sessionCacheShared',
      ]);
      await request(keel.url).get('/health/live').expect(200);
    } finally {
      unregister();
    }
    await request(keel.url).get('/health/ready').expect(200);
  });

  it('a readiness check that hangs fails after its timeout instead of hanging the probe', async () => {
    const readiness = keel.app.get(ReadinessRegistry);
    const unregister = readiness.register(
      'slowDependency',
      ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', reject)),
      { timeoutMs: 200 },
    );
    try {
      const started = Date.now();
      const response = await request(keel.url).get('/health/ready').expect(503);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(response.body.error.slowDependency).toMatchObject({
        status: 'down',
        message: 'timeout of 200ms exceeded',
      });
    } finally {
      unregister();
    }
  });

  it('probes are not cached, set no cookie, and are not logged per request', async () => {
    for (const path of ['/health/live', '/health/ready', '/health/startup']) {
      const response = await request(keel.url).get(path).set('X-Request-Id', `probe${path}`);
      expect(response.headers['cache-control']).toBe('no-cache, no-store, must-revalidate');
      expect(response.headers['set-cookie']).toBeUndefined();
    }
    const ids = keel.logs.filter((line) => line.req).map((line) => (line.req as { id: string }).id);
    expect(ids.filter((id) => id.startsWith('probe'))).toEqual([]);
  });

  it('logs a failing probe once when it starts failing and once when it recovers', async () => {
    const readiness = keel.app.get(ReadinessRegistry);
    const logsBefore = keel.logs.length;
    const unregister = readiness.register('flapping', async () => {
      throw new Error('down for the test');
    });
    for (let poll = 0; poll < 5; poll += 1) await request(keel.url).get('/health/ready');
    unregister();
    for (let poll = 0; poll < 3; poll += 1) await request(keel.url).get('/health/ready');
    const probeLines = keel.logs
      .slice(logsBefore)
      .filter((line) => line.context === 'HealthProbes')
      .map((line) => line.msg);
    expect(probeLines).toEqual([
      '/health/ready failing: flapping (down for the test)',
      '/health/ready passing again',
    ]);
  });

  it('rejects a second readiness check with a name already taken', () => {
    const readiness = keel.app.get(ReadinessRegistry);
    expect(() => readiness.register('database', async () => undefined)).toThrow(
      /already registered/,
    );
    expect(() => readiness.register('phase', async () => undefined)).toThrow(/reserved/);
  });
});

/**
 * Over HTTP /health/startup can only be seen passing: Nest runs every onApplicationBootstrap
 * hook inside listen(), before the port is bound (until then Kubernetes gets "connection
 * refused", which fails the probe too). So this asks the probes from inside bootstrap, through
 * a provider whose own bootstrap hook runs after the database migrated.
 */
@Injectable()
class ProbesDuringBootstrap implements OnApplicationBootstrap {
  startup?: HealthCheckResult;
  ready?: HealthCheckResult;
  constructor(private readonly probes: HealthProbes) {}
  async onApplicationBootstrap() {
    this.startup = await this.probes.startup();
    this.ready = await this.probes.ready();
  }
}

@Module({ imports: [HealthModule], providers: [ProbesDuringBootstrap] })
class ProbesDuringBootstrapModule {}

describe('/health/startup during and after bootstrap', () => {
  let app: NestExpressApplication;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keel-startup-'));
    const env = { NODE_ENV: 'test', DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
    const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    const moduleRef = await Test.createTestingModule({
      imports: [
        AppModule.forRoot({ env, logging: { destination: discard as never } }),
        ProbesDuringBootstrapModule,
      ],
    }).compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false });
    configureApp(app);
  });
  afterAll(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is 503 (bootstrap down) while bootstrap hooks run, 200 after the instance is ready', async () => {
    await app.listen(0, '127.0.0.1');
    const during = app.get(ProbesDuringBootstrap);
    expect(HealthProbes.passed(during.startup!)).toBe(false);
    expect(during.startup!.error).toEqual({ bootstrap: { status: 'down', phase: 'starting' } });
    // Readiness also refuses traffic until start-up is over.
    expect(during.ready!.error).toMatchObject({ phase: { status: 'down', phase: 'starting' } });

    // Listening is not enough: start-up ends when serve() (or the test app) marks it ready.
    const { port } = app.getHttpServer().address() as { port: number };
    const url = `http://127.0.0.1:${port}`;
    const before = await request(url).get('/health/startup').expect(503);
    expect(before.body.error).toEqual({ bootstrap: { status: 'down', phase: 'starting' } });
    await request(url).get('/health/live').expect(200);

    app.get(RuntimeStateService).markReady();
    await request(url).get('/health/startup').expect(200);
    await request(url).get('/health/ready').expect(200);
  });
});
