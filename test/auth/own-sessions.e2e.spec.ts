import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SessionSecrets } from '../../src/auth/session-secrets.js';
import { login, me } from '../support/http-client.js';
import { clearRedisPrefix, POSTGRES_URL, REDIS_URL, uniqueName } from '../support/services.js';
import { createUser, signIn, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

type Case = { backend: 'memory' | 'database' | 'redis'; dialect: 'sqlite' | 'postgres' };
const cases: Case[] = [
  { backend: 'memory', dialect: 'sqlite' },
  { backend: 'database', dialect: 'sqlite' },
  ...(POSTGRES_URL ? [{ backend: 'database', dialect: 'postgres' } as Case] : []),
  ...(REDIS_URL ? [{ backend: 'redis', dialect: 'sqlite' } as Case] : []),
];

describe.each(cases)(
  'own sessions, password change and revocation on $backend ($dialect)',
  ({ backend, dialect }) => {
    let keel: TestApp;
    const prefix = `${uniqueName('keel_own')}:`;

    beforeAll(async () => {
      keel = await startTestApp({
        dialect,
        admin: true,
        sessionBackend: backend,
        env: REDIS_URL ? { REDIS_URL, REDIS_PREFIX: prefix } : {},
      });
    });
    afterAll(async () => {
      await keel.close();
      if (backend === 'redis') {
        await clearRedisPrefix(prefix);
      }
    });

    it("lists the caller's sessions with opaque ids, and DELETE kills one at once", async () => {
      await createUser(keel, 'frank');
      const laptop = await signIn(keel, 'frank', TEST_PASSWORD, 'laptop-browser');
      const phone = await signIn(keel, 'frank', TEST_PASSWORD, 'phone-browser');
      const listed = (await laptop.get('/api/auth/sessions').expect(200)).body as {
        id: string;
        userAgent: string;
        current: boolean;
        createdAt: string;
        lastSeenAt: string;
        ip: string;
      }[];
      expect(listed).toHaveLength(2);
      expect(listed.find((s) => s.current)?.userAgent).toBe('laptop-browser');
      const phoneEntry = listed.find((s) => !s.current)!;
      expect(phoneEntry).toMatchObject({ userAgent: 'phone-browser', ip: expect.any(String) });
      expect(Date.parse(phoneEntry.createdAt)).not.toBeNaN();
      // The handle is not the session id (nor the cookie value).
      const cookies = JSON.stringify(
        [laptop.agent, phone.agent].map((a) => (a as unknown as { jar: unknown }).jar),
      );
      for (const entry of listed) expect(cookies).not.toContain(entry.id);
      // Nor a piece of a cookie's signature (an HMAC of the id under the signing secret).
      const signing = keel.app.get(SessionSecrets).signing;
      const jarText = cookies.replace(/%2B/gi, '+').replace(/%2F/gi, '/');
      for (const sid of [...jarText.matchAll(/s%3A([A-Za-z0-9_-]{43})\./g)].map((m) => m[1])) {
        const signature = createHmac('sha256', signing).update(sid).digest('base64');
        for (const entry of listed) {
          expect(signature.replace(/\+/g, '-').replace(/\//g, '_')).not.toContain(entry.id);
        }
      }

      await laptop.delete(`/api/auth/sessions/${phoneEntry.id}`).expect(204);
      await phone.get('/api/auth/me').expect(401);
      await laptop.get('/api/auth/me').expect(200);
      await laptop.delete(`/api/auth/sessions/${phoneEntry.id}`).expect(404);
      // Another user's handle is not found for this user.
      const other = await signIn(keel, 'admin');
      const otherId = (
        (await other.get('/api/auth/sessions').expect(200)).body as { id: string }[]
      )[0].id;
      await laptop.delete(`/api/auth/sessions/${otherId}`).expect(404);
      await other.get('/api/auth/me').expect(200);
    });

    it("a password change ends the user's other sessions at once; the current one continues", async () => {
      await createUser(keel, 'gina');
      const current = await signIn(keel, 'gina');
      const others = [await signIn(keel, 'gina'), await signIn(keel, 'gina')];
      const wrong = await current
        .post('/api/auth/password', {
          currentPassword: 'not my password',
          newPassword: 'a brand new passphrase',
        })
        .expect(400);
      expect(wrong.body.fields[0].field).toBe('currentPassword');
      const weak = await current
        .post('/api/auth/password', { currentPassword: TEST_PASSWORD, newPassword: 'short' })
        .expect(400);
      expect(weak.body.fields.map((f: { field: string }) => f.field)).toContain('newPassword');
      for (const other of others) await other.get('/api/auth/me').expect(200);

      await current
        .post('/api/auth/password', {
          currentPassword: TEST_PASSWORD,
          newPassword: 'a brand new passphrase',
        })
        .expect(204);
      for (const other of others) await other.get('/api/auth/me').expect(401);
      await current.get('/api/auth/me').expect(200);
      await signIn(keel, 'gina', 'a brand new passphrase');
    });

    it('deleting or disabling a user ends their sessions', async () => {
      const henryId = await createUser(keel, 'henry');
      const henry = await signIn(keel, 'henry');
      await keel.admin!.patch(`/api/users/${henryId}`, { disabled: true }).expect(200);
      await henry.get('/api/auth/me').expect(401);
      const ivanId = await createUser(keel, 'ivan');
      const ivan = await signIn(keel, 'ivan');
      await keel.admin!.delete(`/api/users/${ivanId}`).expect(204);
      await ivan.get('/api/auth/me').expect(401);
    });

    it('a session used continuously still ends at the absolute timeout', async () => {
      const settings = await keel.admin!.get('/api/settings').expect(200);
      await keel
        .admin!.patch('/api/settings', {
          values: { session: { idleTimeoutSeconds: 2, absoluteTimeoutSeconds: 3 } },
        })
        .set('If-Match', settings.headers.etag)
        .expect(200);
      try {
        await createUser(keel, 'judy');
        // The cookie is replayed by hand: a browser drops it at its Expires (whole seconds), but
        // the server must refuse it by itself, whatever a client (or an attacker) keeps sending.
        const judy = await login(keel.url, 'judy', TEST_PASSWORD);
        const started = Date.now();
        // Active every 300 ms: never idle for 2 s, yet over after 3 s.
        while (Date.now() - started < 2700) {
          expect((await me(keel.url, judy)).status).toBe(200);
          await sleep(300);
        }
        await sleep(Math.max(0, started + 3300 - Date.now()));
        expect((await me(keel.url, judy)).status).toBe(401);
      } finally {
        const now = await keel.admin!.get('/api/settings');
        // The admin's own session may have ended too: sign in again to restore the defaults.
        const admin = now.status === 200 ? keel.admin! : await signIn(keel, 'admin');
        const fresh = await admin.get('/api/settings').expect(200);
        await admin
          .patch('/api/settings', { values: { session: null } })
          .set('If-Match', fresh.headers.etag)
          .expect(200);
        keel.admin = admin;
      }
    });
  },
);
