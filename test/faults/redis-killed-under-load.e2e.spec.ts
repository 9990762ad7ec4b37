import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { login, me, type CookieSession } from '../support/http-client.js';
import { freePort, OwnRedisServer, describeWithRedisServer } from '../support/redis-server.js';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Redis (the active session backend, with persistence) is killed while clients hammer the API,
 * then restarted. While it is down: 503 session_store_unavailable, never a 500 and never a
 * logged-out 401; readiness follows; liveness holds. After: every session is still there.
 */
describeWithRedisServer('Redis killed under load', () => {
  let keel: TestApp;
  let redis: OwnRedisServer;
  let redisDir: string;

  beforeAll(async () => {
    redisDir = mkdtempSync(join(tmpdir(), 'keel-fault-redis-'));
    redis = new OwnRedisServer(await freePort(), redisDir);
    await redis.start();
    keel = await startTestApp({
      admin: true,
      sessionBackend: 'redis',
      env: { REDIS_URL: redis.url },
    });
  });
  afterAll(async () => {
    await keel.close();
    await redis.kill();
    rmSync(redisDir, { recursive: true, force: true });
  });

  it('503 while down (no 500, no 401), readiness follows, liveness holds, no session lost', async () => {
    for (let u = 0; u < 5; u++) await createUser(keel, `loaded${u}`);
    const sessions: CookieSession[] = [];
    for (let i = 0; i < 40; i++)
      sessions.push(await login(keel.url, `loaded${i % 5}`, TEST_PASSWORD));

    const statuses = new Map<number, number>();
    // Each 200 during the load: [the session's user, the user it answered as].
    const answeredAs: [string, string | undefined][] = [];
    const probes: { ready: number; live: number; redisUp: boolean }[] = [];
    let redisUp = true;
    let running = true;
    const client = async (offset: number) => {
      for (let i = offset; running; i += 8) {
        const session = sessions[i % sessions.length];
        const answer: { status: number; userId?: string } = await me(keel.url, session).catch(
          () => ({ status: -1 }),
        );
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status === 200) answeredAs.push([session.userId, answer.userId]);
      }
    };
    const prober = async () => {
      while (running) {
        const [ready, live] = await Promise.all([
          fetch(`${keel.url}/health/ready`).then((r) => r.status),
          fetch(`${keel.url}/health/live`).then((r) => r.status),
        ]);
        probes.push({ ready, live, redisUp });
        await sleep(100);
      }
    };
    const load = Promise.all([...Array.from({ length: 8 }, (_, i) => client(i)), prober()]);

    await sleep(500);
    redisUp = false;
    await redis.kill();
    await sleep(1500);
    await redis.start();
    // Give the backend time to reconnect (capped backoff), then keep loading a little.
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && (await me(keel.url, sessions[0])).status !== 200)
      await sleep(100);
    redisUp = true;
    await sleep(500);
    running = false;
    await load;

    const counts = Object.fromEntries(statuses);
    expect(Object.keys(counts).map(Number).sort()).toEqual([200, 503]);
    expect(counts[503]).toBeGreaterThan(0);
    expect(answeredAs.length).toBe(counts[200]);
    expect(answeredAs.filter(([expected, got]) => got !== expected)).toEqual([]);
    expect(probes.every((probe) => probe.live === 200)).toBe(true);
    expect(probes.some((probe) => !probe.redisUp && probe.ready === 503)).toBe(true);
    expect(probes.at(-1)!.ready).toBe(200);
    for (const session of sessions) {
      expect(await me(keel.url, session)).toEqual({ status: 200, userId: session.userId });
    }
  });
});
