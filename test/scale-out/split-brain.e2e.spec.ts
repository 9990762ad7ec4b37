import type { BuiltAppProcess } from '../support/built-app-process.js';
import { type CookieSession, login } from '../support/http-client.js';
import {
  createPostgresDatabase,
  POSTGRES_URL,
  type TemporaryDatabase,
} from '../support/services.js';
import { TEST_PASSWORD } from '../support/signed-in.js';
import {
  call,
  patchSettings,
  replicaEnvironment,
  startReplicas,
  stopReplicas,
  waitUntil,
} from './replica-cluster.js';

// Two replicas with the process-local memory backend: each user's session would exist on one
// of them only. PostgreSQL alone (no Redis): announcements go over LISTEN/NOTIFY.

interface ReadyBody {
  status: string;
  error?: Record<string, { status: string; message?: string }>;
}

(POSTGRES_URL ? describe : describe.skip)('two replicas with the memory session backend', () => {
  let database: TemporaryDatabase;
  let replicas: BuiltAppProcess[] = [];
  let admin: CookieSession;

  const ready = async (replica: BuiltAppProcess) => {
    const response = await fetch(`${replica.url}/health/ready`);
    return { status: response.status, body: (await response.json()) as ReadyBody };
  };

  beforeAll(async () => {
    database = await createPostgresDatabase();
    const env = replicaEnvironment({ databaseUrl: database.url });
    replicas = await startReplicas(1, env);
    replicas.push(...(await startReplicas(1, env)));
    admin = await login(replicas[0]!.url, 'admin', TEST_PASSWORD);
  });

  afterAll(async () => {
    await stopReplicas(replicas);
    await database?.drop();
  });

  it('fails readiness on both, saying to use redis or database', async () => {
    await waitUntil('both replicas see the other', async () => {
      const answers = await Promise.all(replicas.map(ready));
      return answers.every((answer) => answer.status === 503);
    });
    for (const replica of replicas) {
      const { body } = await ready(replica);
      expect(body.status).toBe('error');
      expect(Object.keys(body.error!)).toEqual(['sessionCacheShared']);
      expect(body.error!.sessionCacheShared!.message).toMatch(
        /2 replicas are live .*memory.*redis or database/,
      );
    }
  });

  it('recovers once they share a backend, and then refuses memory with 409 backend_not_shared', async () => {
    const toDatabase = await patchSettings(replicas[0]!.url, admin, {
      sessionCache: { backend: 'database' },
    });
    expect(toDatabase.status).toBe(200);
    await waitUntil('both ready on database', async () => {
      const answers = await Promise.all(replicas.map(ready));
      return answers.every((answer) => answer.status === 200);
    });

    const toMemory = await patchSettings(replicas[0]!.url, admin, {
      sessionCache: { backend: 'memory' },
    });
    expect(toMemory.status).toBe(409);
    expect(toMemory.body).toEqual({
      statusCode: 409,
      code: 'backend_not_shared',
      message: expect.stringMatching(/2 replicas are live.*use redis or database/),
    });
    const after = await call(replicas[0]!.url, admin, 'GET', '/api/settings');
    expect(after.body).toMatchObject({
      version: toDatabase.body.version,
      values: { sessionCache: { backend: 'database' } },
    });
  });

  it('forgets a replica that shut down at once, so one replica may use memory again', async () => {
    const second = replicas[1]!;
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    const runtime = await call<{ instances: unknown[] }>(
      replicas[0]!.url,
      admin,
      'GET',
      '/api/runtime',
    );
    expect(runtime.body.instances).toHaveLength(1);
    const toMemory = await patchSettings(replicas[0]!.url, admin, {
      sessionCache: { backend: 'memory' },
    });
    expect(toMemory.status).toBe(200);
  });
});
