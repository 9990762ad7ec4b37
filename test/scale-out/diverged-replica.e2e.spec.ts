import { type CookieSession, login, me } from '../support/http-client.js';
import { valueOf } from '../support/prometheus-text.js';
import {
  clearRedisPrefix,
  createPostgresDatabase,
  POSTGRES_URL,
  REDIS_URL,
  type TemporaryDatabase,
  uniqueName,
} from '../support/services.js';
import { proxyInFrontOf, type TcpProxy } from '../support/tcp-proxy.js';
import { TEST_PASSWORD } from '../support/signed-in.js';
import type { BuiltAppProcess } from '../support/built-app-process.js';
import {
  call,
  patchSettings,
  replicaEnvironment,
  replicaMetrics,
  startReplicas,
  stopReplicas,
  waitUntil,
} from './replica-cluster.js';

// Three replicas; one of them reaches Redis through a link the test cuts. The settings move
// the session cache to redis: that replica cannot follow. It must say so (desired != backend,
// a metric, its log), fail readiness so traffic goes to the others, keep trying, and follow
// once Redis is reachable again.

(POSTGRES_URL && REDIS_URL ? describe : describe.skip)(
  'a replica that cannot follow a change',
  () => {
    let database: TemporaryDatabase;
    const prefix = `${uniqueName('keel_diverge')}:`;
    let replicas: BuiltAppProcess[] = [];
    let proxy: TcpProxy;
    let admin: CookieSession;

    beforeAll(async () => {
      database = await createPostgresDatabase();
      let proxiedRedisUrl: string;
      ({ proxy, url: proxiedRedisUrl } = await proxyInFrontOf(REDIS_URL!, 6379));
      const env = replicaEnvironment({
        databaseUrl: database.url,
        redisUrl: REDIS_URL,
        redisPrefix: prefix,
      });
      replicas = await startReplicas(1, env);
      admin = await login(replicas[0]!.url, 'admin', TEST_PASSWORD);
      expect(
        (await patchSettings(replicas[0]!.url, admin, { sessionCache: { backend: 'database' } }))
          .status,
      ).toBe(200);
      replicas.push(...(await startReplicas(1, env)));
      replicas.push(...(await startReplicas(1, { ...env, REDIS_URL: proxiedRedisUrl })));
    });

    afterAll(async () => {
      await stopReplicas(replicas);
      await proxy.cut();
      await database?.drop();
      await clearRedisPrefix(prefix);
    });

    const runtimeOf = async (url: string) =>
      (
        await call<{
          sessionCache: { backend: string; desired: string; swapping: boolean };
          tasks: { name: string; restarts: number; lastError: { message: string } | null }[];
        }>(url, admin, 'GET', '/api/runtime')
      ).body;
    const diverged = async (url: string) =>
      valueOf(await replicaMetrics(url), 'keel_session_cache_backend_diverged');

    it('shows desired != backend, fails readiness, retries, and converges once the backend is back', async () => {
      const [first, second, cutOff] = replicas.map((replica) => replica.url) as [
        string,
        string,
        string,
      ];
      const before = await login(first, 'admin', TEST_PASSWORD);
      await proxy.cut();

      expect(
        (await patchSettings(first, admin, { sessionCache: { backend: 'redis' } })).status,
      ).toBe(200);
      await waitUntil(
        'the cut-off replica knows the settings name redis',
        async () => {
          const { sessionCache } = await runtimeOf(cutOff);
          return sessionCache.desired === 'redis' && !sessionCache.swapping;
        },
        15_000,
      );
      expect((await runtimeOf(cutOff)).sessionCache).toMatchObject({
        backend: 'database',
        desired: 'redis',
      });
      const ready = await fetch(`${cutOff}/health/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { error: object }).error).toHaveProperty(
        'sessionCacheFollowsSettings',
      );
      expect(await diverged(cutOff)).toBe(1);
      for (const url of [first, second]) {
        expect((await fetch(`${url}/health/ready`)).status).toBe(200);
        expect(await diverged(url)).toBe(0);
      }
      await waitUntil(
        'it has tried again',
        async () => {
          const follow = (await runtimeOf(cutOff)).tasks.find(
            (task) => task.name === 'session-cache-follow',
          );
          return (follow?.restarts ?? 0) >= 1 && /redis/.test(follow?.lastError?.message ?? '');
        },
        15_000,
      );
      // One line per attempt, not one per retry of a connection.
      const attempts = replicas[2]!.logs.filter((line) =>
        /Session cache serves database but the settings name redis/.test(String(line.msg)),
      );
      const follow = (await runtimeOf(cutOff)).tasks.find(
        (task) => task.name === 'session-cache-follow',
      )!;
      expect(attempts.length).toBeGreaterThanOrEqual(1);
      expect(attempts.length).toBeLessThanOrEqual(follow.restarts + 1);

      await proxy.start();
      await waitUntil(
        'it follows the settings',
        async () => {
          const { sessionCache } = await runtimeOf(cutOff);
          return sessionCache.backend === 'redis' && !sessionCache.swapping;
        },
        45_000,
      );
      await waitUntil(
        'it is ready again',
        async () => (await fetch(`${cutOff}/health/ready`)).status === 200,
        10_000,
      );
      expect(await diverged(cutOff)).toBe(0);
      for (const url of [first, second, cutOff]) {
        expect(await me(url, before)).toEqual({ status: 200, userId: before.userId });
      }
    }, 90_000);
  },
);
