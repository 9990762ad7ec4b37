import { SessionCacheService } from '../../src/session-cache/session-cache.service.js';
import { login, me } from '../support/http-client.js';
import { clearRedisPrefix, POSTGRES_URL, REDIS_URL, uniqueName } from '../support/services.js';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Anonymous clients cost no stored session: whatever they send, the backend's session count
// stays as it was, so a flood of them can neither fill the memory backend (evicting signed-in
// users) nor grow the database or Redis.

const REQUESTS = 10_000;
const CONCURRENCY = 32;

type Backend = 'memory' | 'database' | 'redis';
const backends: { backend: Backend; dialect: 'sqlite' | 'postgres' }[] = [
  { backend: 'memory', dialect: 'sqlite' },
  ...(POSTGRES_URL ? [{ backend: 'database' as const, dialect: 'postgres' as const }] : []),
  ...(REDIS_URL ? [{ backend: 'redis' as const, dialect: 'sqlite' as const }] : []),
];

describe.each(backends)('anonymous requests on $backend ($dialect)', ({ backend, dialect }) => {
  let keel: TestApp;
  const prefix = `${uniqueName('keel_anon')}:`;

  beforeAll(async () => {
    keel = await startTestApp({
      dialect,
      sessionBackend: backend,
      env: REDIS_URL ? { REDIS_URL, REDIS_PREFIX: prefix } : {},
    });
    await createUser(keel, 'walt');
  });
  afterAll(async () => {
    await keel.close();
    await clearRedisPrefix(prefix);
  });

  it(`${REQUESTS.toLocaleString('en')} GET /api/auth/csrf leave the session count unchanged`, async () => {
    const signedIn = await login(keel.url, 'walt', TEST_PASSWORD);
    const cache = keel.app.get(SessionCacheService);
    const before = await cache.backend.length();
    expect(before).toBe(1);

    // Cookieless clients, clients with a dead session cookie, clients replaying a CSRF cookie.
    const variants: (string | undefined)[] = [
      undefined,
      'keel.sid=s%3Anever-issued.bad-signature',
      'keel.csrf=forged.token',
    ];
    let sent = 0;
    const failures: number[] = [];
    const client = async () => {
      while (sent < REQUESTS) {
        const cookie = variants[sent % variants.length];
        sent += 1;
        const response = await fetch(`${keel.url}/api/auth/csrf`, {
          headers: cookie ? { cookie } : {},
        });
        await response.arrayBuffer();
        if (response.status !== 200) failures.push(response.status);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, client));

    expect(failures).toEqual([]);
    expect(await cache.backend.length()).toBe(before);
    expect(await me(keel.url, signedIn)).toEqual({ status: 200, userId: signedIn.userId });
  });
});
