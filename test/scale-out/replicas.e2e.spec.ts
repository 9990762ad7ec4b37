import { createClient } from 'redis';
import type { BuiltAppProcess } from '../support/built-app-process.js';
import { type CookieSession, login, logout, me } from '../support/http-client.js';
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
  TEST_REPLICA_TIMINGS,
  waitUntil,
} from './replica-cluster.js';

// Issue 8, "what it must show": three Keel processes on one PostgreSQL database and one Redis.
// Each test builds on the cluster the first ones set up (one admin, the redis backend).

const USERS = 8;
const SESSIONS_PER_USER = 3;
const CLIENTS = 9;

interface Runtime {
  instanceId: string;
  sessionCache: { backend: string; swapping: boolean };
  tasks: { name: string; state: string; restarts: number }[];
  instances: { instanceId: string; sessionBackend: string; pid: number }[];
}

(POSTGRES_URL && REDIS_URL ? describe : describe.skip)(
  'three replicas on PostgreSQL + Redis',
  () => {
    let database: TemporaryDatabase;
    const prefix = `${uniqueName('keel_scale')}:`;
    let replicas: BuiltAppProcess[] = [];
    let urls: string[] = [];
    let admin: CookieSession;

    const runtimeOf = async (url: string) =>
      (await call<Runtime>(url, admin, 'GET', '/api/runtime')).body;

    beforeAll(async () => {
      database = await createPostgresDatabase();
      const env = replicaEnvironment({
        databaseUrl: database.url,
        redisUrl: REDIS_URL,
        redisPrefix: prefix,
      });
      // One replica first: with memory (the default) a second one would be refused readiness.
      replicas = await startReplicas(1, env);
      admin = await login(replicas[0]!.url, 'admin', TEST_PASSWORD);
      const toRedis = await patchSettings(replicas[0]!.url, admin, {
        sessionCache: { backend: 'redis' },
      });
      expect(toRedis.status).toBe(200);
      replicas.push(...(await startReplicas(2, env)));
      urls = replicas.map((replica) => replica.url);
      await waitUntil('every replica lists three live instances and is ready', async () => {
        for (const url of urls) {
          const runtime = await runtimeOf(url);
          if (runtime.instances.length !== 3) return false;
          if ((await fetch(`${url}/health/ready`)).status !== 200) return false;
        }
        return true;
      });
    });

    afterAll(async () => {
      await stopReplicas(replicas);
      await database?.drop();
      await clearRedisPrefix(prefix);
    });

    it('lists the live replicas in /api/runtime, with what each runs', async () => {
      const runtime = await runtimeOf(urls[1]!);
      expect(runtime.instances.map((instance) => instance.pid).sort()).toEqual(
        replicas.map((replica) => replica.child.pid).sort(),
      );
      for (const instance of runtime.instances) {
        expect(instance).toMatchObject({
          phase: 'ready',
          version: expect.any(String),
          sessionBackend: 'redis',
          host: expect.any(String),
          heartbeatAt: expect.any(String),
        });
      }
    });

    it('a session made on replica 1 works on replicas 2 and 3', async () => {
      const session = await login(urls[0]!, 'admin', TEST_PASSWORD);
      for (const url of urls) {
        const answer = await call<{ user: { username: string; id: string } }>(
          url,
          session,
          'GET',
          '/api/auth/me',
        );
        expect([url, answer.status, answer.body.user.username]).toEqual([url, 200, 'admin']);
        expect(answer.body.user.id).toBe(session.userId);
      }
    });

    it('a settings change on replica 1 reaches replicas 2 and 3 within 1 second', async () => {
      const sent = Date.now();
      const changed = await patchSettings(urls[0]!, admin, { siteName: `Keel ${sent}` });
      expect(changed.status).toBe(200);
      const answered = Date.now();
      const version = changed.body.version;
      const latencies = await Promise.all(
        urls.slice(1).map(async (url) => {
          await waitUntil(
            `version ${version} on ${url}`,
            async () => (await call(url, admin, 'GET', '/api/settings')).body.version === version,
            2000,
            2,
          );
          return Date.now() - sent;
        }),
      );
      process.stdout.write(
        `settings propagation: PATCH answered in ${answered - sent} ms; replicas 2 and 3 reported version ${version} ${latencies.join(' ms and ')} ms after it was sent\n`,
      );
      for (const latency of latencies) expect(latency).toBeLessThan(1000);
    });

    it('swaps redis -> database -> redis through replica 2 under round-robin load: 0 failed requests, 0 lost sessions', async () => {
      const usernames = Array.from({ length: USERS }, (_, u) => `member${u}`);
      for (const username of usernames) {
        const created = await call(urls[0]!, admin, 'POST', '/api/users', {
          body: { username, password: TEST_PASSWORD, role: 'member' },
        });
        expect(created.status).toBe(201);
      }
      const sessions: CookieSession[] = [];
      for (let s = 0; s < USERS * SESSIONS_PER_USER; s++) {
        sessions.push(await login(urls[s % 3]!, usernames[s % USERS]!, TEST_PASSWORD));
      }
      // One session ends on each turn of churn(): 3 turns, during and after each of 2 swaps.
      const live = sessions.slice(0, USERS * SESSIONS_PER_USER - 2 * 2 * 3);
      const toEnd = sessions.slice(live.length);
      const startedDuringSwaps: CookieSession[] = [];

      const failures: string[] = [];
      let requests = 0;
      let running = true;
      const client = async (index: number) => {
        for (let i = index; running; i += CLIENTS) {
          const session = live[i % live.length]!;
          const url = urls[i % urls.length]!;
          const answer = await me(url, session);
          requests += 1;
          if (answer.status !== 200 || answer.userId !== session.userId) {
            failures.push(`${url}: ${answer.status} for ${session.userId} (got ${answer.userId})`);
          }
        }
      };
      const load = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));

      // Sessions start and end on every replica while the backend changes under them.
      let turn = 0;
      const churn = async () => {
        for (let i = 0; i < 3; i++) {
          turn += 1;
          startedDuringSwaps.push(
            await login(urls[turn % 3]!, usernames[turn % USERS]!, TEST_PASSWORD),
          );
          const ended = toEnd.pop();
          expect(ended).toBeDefined();
          expect(await logout(urls[(turn + 1) % 3]!, ended!)).toBe(204);
        }
      };
      for (const backend of ['database', 'redis']) {
        const started = Date.now();
        const [changed] = await Promise.all([
          patchSettings(urls[1]!, admin, { sessionCache: { backend } }),
          churn(),
        ]);
        expect([changed.status, changed.body.values]).toEqual([
          200,
          expect.objectContaining({ sessionCache: { backend } }),
        ]);
        await waitUntil(`every replica on ${backend}, handover finished`, async () => {
          for (const url of urls) {
            const { sessionCache } = await runtimeOf(url);
            if (sessionCache.backend !== backend || sessionCache.swapping) return false;
          }
          return true;
        });
        process.stdout.write(
          `swap to ${backend}: PATCH answered and every replica switched and dropped the old backend within ${Date.now() - started} ms\n`,
        );
        await churn();
      }
      running = false;
      await load;

      process.stdout.write(`round-robin load during the swaps: ${requests} requests\n`);
      expect(failures).toEqual([]);
      expect(requests).toBeGreaterThan(300);
      for (const url of urls) {
        for (const session of [...live, ...startedDuringSwaps]) {
          expect([url, await me(url, session)]).toEqual([
            url,
            { status: 200, userId: session.userId },
          ]);
        }
        // Sessions ended during the swaps stay ended on every replica.
        for (const session of sessions.slice(live.length)) {
          expect([url, (await me(url, session)).status]).toEqual([url, 401]);
        }
      }
    });

    it('a replica whose subscriber connection is killed still converges, within the reconciliation interval', async () => {
      const third = await runtimeOf(urls[2]!);
      const redis = createClient({ url: REDIS_URL });
      await redis.connect();
      try {
        const list = String(await redis.sendCommand(['CLIENT', 'LIST']));
        const line = list
          .split('\n')
          .find((entry) => entry.includes(` name=keel-settings-subscriber:${third.instanceId} `));
        expect(line).toBeDefined();
        const id = /\bid=(\d+)/.exec(line!)![1]!;
        expect(await redis.sendCommand(['CLIENT', 'KILL', 'ID', id])).toBe(1);
      } finally {
        await redis.close();
      }
      const sent = Date.now();
      const changed = await patchSettings(urls[0]!, admin, { auth: { loginMaxAttempts: 25 } });
      expect(changed.status).toBe(200);
      await waitUntil(
        'replica 3 converges',
        async () =>
          (await call(urls[2]!, admin, 'GET', '/api/settings')).body.version ===
          changed.body.version,
        TEST_REPLICA_TIMINGS.reconcileIntervalMs + 1000,
        5,
      );
      process.stdout.write(
        `replica 3 (subscriber killed) converged ${Date.now() - sent} ms after the change (reconciliation every ${TEST_REPLICA_TIMINGS.reconcileIntervalMs} ms)\n`,
      );
      // The lost connection was a crash of the supervised subscriber, which came back.
      await waitUntil('the subscriber is back', async () => {
        const task = (await runtimeOf(urls[2]!)).tasks.find(
          (entry) => entry.name === 'settings-subscriber',
        );
        return task?.state === 'running' && task.restarts >= 1;
      });
    });
  },
);
