import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { SessionCacheService } from '../../src/session-cache/session-cache.service.js';
import { login, logout, me, type CookieSession } from '../support/http-client.js';
import { clearRedisPrefix, REDIS_URL, uniqueName } from '../support/services.js';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const USERS = 20;
const SESSIONS_PER_USER = 10;
const CLIENTS = 16;

/**
 * The capability Keel exists for: the session backend changes while users keep working.
 * 200 signed-in sessions are hammered continuously while the cache is swapped
 * memory -> redis -> database -> memory through PATCH /api/settings. Sessions started and ended
 * during the swaps must stay started and ended.
 */
(REDIS_URL ? describe : describe.skip)('live session-cache swap under load', () => {
  let keel: TestApp;
  const prefix = `${uniqueName('keel_swap')}:`;

  beforeAll(async () => {
    keel = await startTestApp({
      admin: true,
      sessionBackend: 'memory',
      env: { REDIS_URL: REDIS_URL!, REDIS_PREFIX: prefix },
    });
    for (let u = 0; u < USERS; u++) await createUser(keel, `user${u}`);
  });
  afterAll(async () => {
    await keel.close();
    await clearRedisPrefix(prefix);
  });

  async function setBackend(backend: string): Promise<void> {
    const current = await keel.admin!.get('/api/settings').expect(200);
    const response = await keel
      .admin!.patch('/api/settings', { values: { sessionCache: { backend } } })
      .set('If-Match', current.headers.etag);
    expect(response.status).toBe(200);
    expect(response.body.values.sessionCache.backend).toBe(backend);
  }

  it('0 failed requests, 0 lost sessions, and sessions started or ended mid-swap stay so', async () => {
    const sessions: { session: CookieSession; username: string }[] = [];
    for (let u = 0; u < USERS; u++) {
      for (let s = 0; s < SESSIONS_PER_USER; s++) {
        sessions.push({
          session: await login(keel.url, `user${u}`, TEST_PASSWORD),
          username: `user${u}`,
        });
      }
    }
    const SWAPS = ['redis', 'database', 'memory'];
    const ENDED_PER_SWAP = 10;
    const live = sessions.slice(0, sessions.length - SWAPS.length * ENDED_PER_SWAP);
    const toEnd = sessions.slice(live.length);
    const endedDuringSwaps: CookieSession[] = [];
    const startedDuringSwaps: CookieSession[] = [];

    const failures: string[] = [];
    let requests = 0;
    let running = true;
    const client = async (index: number) => {
      for (let i = index; running; i += CLIENTS) {
        const { session } = live[i % live.length];
        const answer = await me(keel.url, session);
        requests += 1;
        if (answer.status !== 200 || answer.userId !== session.userId) {
          failures.push(`${answer.status} for ${session.userId} (got ${answer.userId})`);
        }
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));

    // While the load runs: swap three times, and start and end sessions in between.
    const churn = async () => {
      for (let i = 0; i < ENDED_PER_SWAP; i++) {
        startedDuringSwaps.push(await login(keel.url, `user${i}`, TEST_PASSWORD));
        const ended = toEnd.pop()!.session;
        expect(await logout(keel.url, ended)).toBe(204);
        endedDuringSwaps.push(ended);
      }
    };
    for (const backend of SWAPS) {
      const ended = endedDuringSwaps.length;
      await Promise.all([setBackend(backend), churn()]);
      expect(endedDuringSwaps.length).toBe(ended + ENDED_PER_SWAP);
      const status = keel.app.get(RuntimeStateService).sessionCacheStatus;
      expect(status).toMatchObject({ backend, swapping: false });
      expect(status.lastSwap).toMatchObject({ to: backend });
      expect(status.lastSwap!.error).toBeUndefined();
      expect(status.lastSwap!.migrated).toBeGreaterThanOrEqual(live.length);
    }
    running = false;
    await load;

    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(500);
    for (const { session } of live) expect((await me(keel.url, session)).status).toBe(200);
    for (const session of startedDuringSwaps) {
      expect(await me(keel.url, session)).toEqual({ status: 200, userId: session.userId });
    }
    // Sessions ended during a swap stay ended: no backend brought them back.
    expect(toEnd).toEqual([]);
    expect(endedDuringSwaps).toHaveLength(SWAPS.length * ENDED_PER_SWAP);
    for (const session of endedDuringSwaps) {
      expect((await me(keel.url, session)).status).toBe(401);
    }
    // And the backend holds exactly the live ones: the admin's, the hammered, the new.
    expect(await keel.app.get(SessionCacheService).backend.length()).toBe(
      1 + live.length + startedDuringSwaps.length,
    );
  });
});
