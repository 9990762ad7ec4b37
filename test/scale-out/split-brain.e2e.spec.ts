import type { BuiltAppProcess } from '../support/built-app-process.js';
import { type CookieSession, login, me } from '../support/http-client.js';
import {
  clearRedisPrefix,
  createPostgresDatabase,
  POSTGRES_URL,
  REDIS_URL,
  type TemporaryDatabase,
  uniqueName,
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
// of them only. The older keeps serving (its users keep their sessions, and a Service is never
// emptied by scaling one memory replica to two); the younger is not ready until the sessions
// move to a shared backend, which is done through the older. PostgreSQL (LISTEN/NOTIFY
// announcements) and Redis.

interface ReadyBody {
  status: string;
  error?: Record<string, { status: string; message?: string }>;
}

(POSTGRES_URL && REDIS_URL ? describe : describe.skip)(
  'two replicas with the memory session backend',
  () => {
    let database: TemporaryDatabase;
    const prefix = `${uniqueName('keel_split')}:`;
    let replicas: BuiltAppProcess[] = [];
    let admin: CookieSession;

    const ready = async (replica: BuiltAppProcess) => {
      const response = await fetch(`${replica.url}/health/ready`);
      return { status: response.status, body: (await response.json()) as ReadyBody };
    };

    beforeAll(async () => {
      database = await createPostgresDatabase();
      const env = replicaEnvironment({
        databaseUrl: database.url,
        redisUrl: REDIS_URL,
        redisPrefix: prefix,
        sessionBackend: 'memory',
      });
      // One after the other: the first is the older.
      replicas = await startReplicas(1, env);
      replicas.push(...(await startReplicas(1, env)));
      admin = await login(replicas[0]!.url, 'admin', TEST_PASSWORD);
    });

    afterAll(async () => {
      await stopReplicas(replicas);
      await database?.drop();
      await clearRedisPrefix(prefix);
    });

    it('keeps the older ready and its sessions working; the younger is not ready, and says why', async () => {
      const [older, younger] = replicas as [BuiltAppProcess, BuiltAppProcess];
      await waitUntil(
        'the younger sees the older',
        async () => (await ready(younger)).status === 503,
      );
      const { body } = await ready(younger);
      expect(body.status).toBe('error');
      expect(Object.keys(body.error!)).toEqual(['sessionCacheShared']);
      expect(body.error!.sessionCacheShared!.message).toMatch(
        /2 replicas are live .*memory.*The oldest replica \(.+\) keeps serving; this one is not ready until sessionCache.backend is redis or database/,
      );
      // The older one serves, readiness and all, for as long as both run.
      for (let i = 0; i < 3; i++) {
        expect((await ready(older)).status).toBe(200);
        expect((await me(older.url, admin)).status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });

    it('moves to redis through the older: both ready, no session lost', async () => {
      const [older, younger] = replicas as [BuiltAppProcess, BuiltAppProcess];
      const another = await login(older.url, 'admin', TEST_PASSWORD);
      const toRedis = await patchSettings(older.url, admin, { sessionCache: { backend: 'redis' } });
      expect(toRedis.status).toBe(200);
      await waitUntil('both ready on redis', async () => {
        const answers = await Promise.all(replicas.map(ready));
        return answers.every((answer) => answer.status === 200);
      });
      // The sessions the older one held in its memory went with it, and every replica sees them.
      for (const replica of [older, younger]) {
        for (const session of [admin, another]) {
          expect((await me(replica.url, session)).status).toBe(200);
        }
      }
    });

    it('then refuses memory with 409 backend_not_shared', async () => {
      const before = await call<{ version: number }>(
        replicas[0]!.url,
        admin,
        'GET',
        '/api/settings',
      );
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
        version: before.body.version,
        values: { sessionCache: { backend: 'redis' } },
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
  },
);
