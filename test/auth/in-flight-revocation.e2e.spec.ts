import request from 'supertest';
import { SessionCacheService } from '../../src/session-cache/session-cache.service.js';
import { type CookieSession, login, me, sidOf } from '../support/http-client.js';
import { clearRedisPrefix, POSTGRES_URL, REDIS_URL, uniqueName } from '../support/services.js';
import { createUser, signIn, type SignedInClient, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp, useSessionBackend } from '../support/test-app.js';
import { RequestGate } from '../support/test-routes.js';

// A request of a session is in flight (it will change and save its session when it ends) while
// the session ends some other way. Whatever ended it, the request's save must not bring it back:
// afterwards the cookie is 401, and stays so, on every backend.

type Backend = 'memory' | 'database' | 'redis';
type Case = { backend: Backend; dialect: 'sqlite' | 'postgres' };
const cases: Case[] = [
  { backend: 'memory', dialect: 'sqlite' },
  { backend: 'database', dialect: 'sqlite' },
  ...(POSTGRES_URL ? [{ backend: 'database', dialect: 'postgres' } as Case] : []),
  ...(REDIS_URL ? [{ backend: 'redis', dialect: 'sqlite' } as Case] : []),
];

interface Scene {
  keel: TestApp;
  user: { id: string; name: string };
  /** The session whose request is in flight. */
  doomed: CookieSession;
  /** Another session of the same user, in another browser. */
  other: SignedInClient;
}

/** The ways a session ends, and what they do to the user's other session. */
const endings: Record<string, { end(scene: Scene): Promise<void>; otherSurvives: boolean }> = {
  'its owner revokes it from another session': {
    otherSurvives: true,
    async end({ other }) {
      const listed = (await other.get('/api/auth/sessions').expect(200)).body as {
        id: string;
        current: boolean;
      }[];
      const handle = listed.find((session) => !session.current)!.id;
      await other.delete(`/api/auth/sessions/${handle}`).expect(204);
    },
  },
  'another session changes the password': {
    otherSurvives: true,
    async end({ other }) {
      await other
        .post('/api/auth/password', {
          currentPassword: TEST_PASSWORD,
          newPassword: 'an entirely new passphrase',
        })
        .expect(204);
    },
  },
  'it is logged out in another tab': {
    otherSurvives: true,
    async end({ keel, doomed }) {
      await request(keel.url)
        .post('/api/auth/logout')
        .set('Cookie', doomed.cookie)
        .set('X-CSRF-Token', doomed.csrfToken)
        .expect(204);
    },
  },
  'an admin disables the user (and enables them again)': {
    otherSurvives: false,
    async end({ keel, user }) {
      await keel.admin!.patch(`/api/users/${user.id}`, { disabled: true }).expect(200);
      await keel.admin!.patch(`/api/users/${user.id}`, { disabled: false }).expect(200);
    },
  },
  'an admin deletes the user': {
    otherSurvives: false,
    async end({ keel, user }) {
      await keel.admin!.delete(`/api/users/${user.id}`).expect(204);
    },
  },
};

async function writeInFlight(keel: TestApp, session: CookieSession): Promise<number> {
  const response = await fetch(`${keel.url}/test/session-write`, {
    method: 'POST',
    headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken },
  });
  await response.arrayBuffer();
  return response.status;
}

describe.each(cases)('a request in flight when its session ends, on $backend ($dialect)', (c) => {
  let keel: TestApp;
  const prefix = `${uniqueName('keel_inflight')}:`;

  beforeAll(async () => {
    keel = await startTestApp({
      dialect: c.dialect,
      admin: true,
      testRoutes: true,
      sessionBackend: c.backend,
      env: REDIS_URL ? { REDIS_URL, REDIS_PREFIX: prefix } : {},
    });
  });
  afterAll(async () => {
    await keel.close();
    await clearRedisPrefix(prefix);
  });

  it.each(Object.keys(endings))('%s: the cookie is 401 afterwards and stays 401', async (how) => {
    const name = uniqueName('bob').slice(0, 30);
    const id = await createUser(keel, name);
    const doomed = await login(keel.url, name, TEST_PASSWORD);
    const other = await signIn(keel, name);
    const scene: Scene = { keel, user: { id, name }, doomed, other };

    const gate = keel.app.get(RequestGate).hold();
    const inFlight = writeInFlight(keel, doomed);
    await gate.entered;
    await endings[how].end(scene);
    gate.release();
    // Its save at the end found no session to write back to.
    expect(await inFlight).toBe(200);

    const backend = keel.app.get(SessionCacheService).backend;
    for (let check = 0; check < 3; check++) {
      expect((await me(keel.url, doomed)).status).toBe(401);
      expect(await backend.get(sidOf(doomed))).toBeUndefined();
      // A second write attempt of the dead cookie changes nothing either.
      expect(await writeInFlight(keel, doomed)).toBe(401);
    }
    await other.get('/api/auth/me').expect(endings[how].otherSurvives ? 200 : 401);
    expect(keel.app.get(SessionCacheService).status().backend).toBe(c.backend);
  });
});

(POSTGRES_URL && REDIS_URL ? describe : describe.skip)(
  'a request in flight across a swap when its session ends',
  () => {
    let keel: TestApp;
    const prefix = `${uniqueName('keel_inflight_swap')}:`;

    beforeAll(async () => {
      keel = await startTestApp({
        dialect: 'postgres',
        admin: true,
        testRoutes: true,
        sessionBackend: 'memory',
        env: { REDIS_URL: REDIS_URL!, REDIS_PREFIX: prefix },
      });
    });
    afterAll(async () => {
      await keel.close();
      await clearRedisPrefix(prefix);
    });

    const swaps: [Backend, Backend][] = [
      ['memory', 'redis'],
      ['redis', 'database'],
      ['database', 'memory'],
    ];
    it.each(swaps)(
      '%s -> %s, the session revoked before and after the copy: 401 on the new backend, gone from both',
      async (from, to) => {
        expect(keel.app.get(SessionCacheService).status().backend).toBe(from);
        const name = uniqueName('carol').slice(0, 30);
        await createUser(keel, name);
        const revokedBeforeSwap = await login(keel.url, name, TEST_PASSWORD);
        const revokedAfterSwap = await login(keel.url, name, TEST_PASSWORD);
        const survivor = await login(keel.url, name, TEST_PASSWORD);
        const cache = keel.app.get(SessionCacheService);
        const logout = (session: CookieSession) =>
          request(keel.url)
            .post('/api/auth/logout')
            .set('Cookie', session.cookie)
            .set('X-CSRF-Token', session.csrfToken)
            .expect(204);

        const gate = keel.app.get(RequestGate);
        const first = gate.hold();
        const inFlightBefore = writeInFlight(keel, revokedBeforeSwap);
        await first.entered;
        const second = gate.hold();
        const inFlightAfter = writeInFlight(keel, revokedAfterSwap);
        await second.entered;

        await logout(revokedBeforeSwap);
        await useSessionBackend(keel.app, to);
        await logout(revokedAfterSwap);
        first.release();
        second.release();
        expect([await inFlightBefore, await inFlightAfter]).toEqual([200, 200]);

        expect(cache.status()).toMatchObject({ backend: to, swapping: false });
        for (const session of [revokedBeforeSwap, revokedAfterSwap]) {
          expect((await me(keel.url, session)).status).toBe(401);
          expect(await cache.backend.get(sidOf(session))).toBeUndefined();
        }
        expect(await me(keel.url, survivor)).toEqual({ status: 200, userId: survivor.userId });
      },
    );
  },
);
