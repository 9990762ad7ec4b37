import request from 'supertest';
import { createUser, signIn, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('CSRF defence for cookie sessions', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('an unsafe request with a session cookie and no or a wrong token: 403, nothing changed', async () => {
    const admin = keel.admin!;
    const before = await admin.get('/api/settings').expect(200);
    for (const token of [undefined, 'wrong-token', `${admin.csrfToken}x`, '']) {
      const attempt = admin.agent
        .patch('/api/settings')
        .set('If-Match', before.headers.etag)
        .send({ values: { siteName: 'Pwned' } });
      if (token !== undefined) attempt.set('X-CSRF-Token', token);
      const response = await attempt.expect(403);
      expect(response.body).toMatchObject({ statusCode: 403, code: 'csrf_failed' });
    }
    const createAttempt = await admin.agent
      .post('/api/users')
      .send({ username: 'mallory', password: TEST_PASSWORD, role: 'admin' })
      .expect(403);
    expect(createAttempt.body.code).toBe('csrf_failed');
    const after = await admin.get('/api/settings').expect(200);
    expect(after.body).toEqual(before.body);
    expect(
      (await admin.get('/api/users').expect(200)).body.map((u: { username: string }) => u.username),
    ).not.toContain('mallory');
  });

  it('the token from login works, and the token of another session does not', async () => {
    await createUser(keel, 'erin', 'admin');
    const erin = await signIn(keel, 'erin');
    const admin = keel.admin!;
    const current = await admin.get('/api/settings').expect(200);
    await admin.agent
      .patch('/api/settings')
      .set('If-Match', current.headers.etag)
      .set('X-CSRF-Token', erin.csrfToken)
      .send({ values: { siteName: 'Cross' } })
      .expect(403);
    await admin
      .patch('/api/settings', { values: { siteName: 'Same' } })
      .set('If-Match', current.headers.etag)
      .expect(200);
  });

  it('GET /api/auth/csrf returns the session token; requests without a cookie need none', async () => {
    const admin = keel.admin!;
    const { body } = await admin.get('/api/auth/csrf').expect(200);
    expect(body.csrfToken).toBe(admin.csrfToken);
    // No cookie, no ambient authority: the request is judged on its credentials alone.
    await request(keel.url)
      .post('/api/auth/login')
      .send({ username: 'admin', password: 'wrong password here' })
      .expect(401);
  });
});

/** `name=value` of the Set-Cookie for `name` in a response, or undefined. */
function setCookie(response: request.Response, name: string): string | undefined {
  const cookies = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  return cookies.find((cookie) => cookie.startsWith(`${name}=`));
}
const pairOf = (cookie: string) => cookie.split(';')[0];
const CLEARED = /Expires=Thu, 01 Jan 1970/;

describe('CSRF for clients with no session (signed double-submit) and dead cookies', () => {
  const secrets = {
    old: 'the-old-secret-0123456789abcdef0123456789abcdef',
    current: 'the-new-secret-0123456789abcdef0123456789abcdef',
  };
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({
      admin: true,
      env: { SESSION_SECRET: `${secrets.current},${secrets.old}` },
    });
    await createUser(keel, 'nora');
  });
  afterAll(async () => {
    await keel.close();
  });

  const loginAs = (cookie: string | undefined, token: string | undefined) => {
    const attempt = request(keel.url)
      .post('/api/auth/login')
      .send({ username: 'nora', password: TEST_PASSWORD });
    if (cookie) attempt.set('Cookie', cookie);
    if (token !== undefined) attempt.set('X-CSRF-Token', token);
    return attempt;
  };

  it('a browser holding the CSRF cookie must send its token on login; a client with no cookie needs none', async () => {
    const csrf = await request(keel.url).get('/api/auth/csrf').expect(200);
    const cookie = pairOf(setCookie(csrf, 'keel.csrf')!);
    const token = csrf.body.csrfToken as string;
    expect(cookie).toBe(`keel.csrf=${token}`);
    // Asked again with its cookie, the client keeps the token it holds.
    const again = await request(keel.url).get('/api/auth/csrf').set('Cookie', cookie).expect(200);
    expect(again.body.csrfToken).toBe(token);
    expect(setCookie(again, 'keel.csrf')).toBeUndefined();

    for (const wrong of [undefined, '', 'wrong', `${token}x`]) {
      const refused = await loginAs(cookie, wrong).expect(403);
      expect(refused.body).toMatchObject({ code: 'csrf_failed' });
      expect(setCookie(refused, 'keel.sid')).toBeUndefined();
    }
    await loginAs(cookie, token).expect(200);
    await loginAs(undefined, undefined).expect(200);
  });

  it('refuses a CSRF cookie this server did not sign, even with a matching header', async () => {
    for (const forged of ['abc.def', 'no-dot-at-all', `${'a'.repeat(32)}.${'b'.repeat(43)}`]) {
      await loginAs(`keel.csrf=${forged}`, forged).expect(403);
    }
  });

  it('verifies tokens signed with any secret of the rotation list, and signs with the first', async () => {
    const older = await startTestApp({ env: { SESSION_SECRET: secrets.old } });
    const newest = await startTestApp({ env: { SESSION_SECRET: secrets.current } });
    try {
      const fromOld = (await request(older.url).get('/api/auth/csrf').expect(200)).body
        .csrfToken as string;
      await loginAs(`keel.csrf=${fromOld}`, fromOld).expect(200);
      const fromNew = (await request(newest.url).get('/api/auth/csrf').expect(200)).body
        .csrfToken as string;
      await loginAs(`keel.csrf=${fromNew}`, fromNew).expect(200);
      // And a token of this app verifies where only the first secret is known.
      const fromHere = (await request(keel.url).get('/api/auth/csrf').expect(200)).body
        .csrfToken as string;
      await request(newest.url)
        .get('/api/auth/csrf')
        .set('Cookie', `keel.csrf=${fromHere}`)
        .expect(200)
        .expect((response) => expect(response.body.csrfToken).toBe(fromHere));
      await request(older.url)
        .get('/api/auth/csrf')
        .set('Cookie', `keel.csrf=${fromHere}`)
        .expect(200)
        .expect((response) => expect(response.body.csrfToken).not.toBe(fromHere));
    } finally {
      await older.close();
      await newest.close();
    }
  });

  it('a cookie that names no live session counts as none, and every answer clears it', async () => {
    const signedIn = await loginAs(undefined, undefined).expect(200);
    const dead = pairOf(setCookie(signedIn, 'keel.sid')!);
    await request(keel.url)
      .post('/api/auth/logout')
      .set('Cookie', dead)
      .set('X-CSRF-Token', signedIn.body.csrfToken)
      .expect(204);

    // Logout again: 204, no token needed, the cookie cleared.
    const logout = await request(keel.url).post('/api/auth/logout').set('Cookie', dead).expect(204);
    expect(setCookie(logout, 'keel.sid')).toMatch(CLEARED);
    // Any answer clears it: a 401, a public page, the CSRF token.
    for (const path of ['/api/auth/me', '/api/setup', '/api/auth/csrf']) {
      const response = await request(keel.url).get(path).set('Cookie', dead);
      expect(setCookie(response, 'keel.sid')).toMatch(CLEARED);
    }
    const forged = await request(keel.url)
      .get('/api/auth/me')
      .set('Cookie', 'keel.sid=s%3Anever-issued.bad-signature')
      .expect(401);
    expect(setCookie(forged, 'keel.sid')).toMatch(CLEARED);
    // Login works without a token, and sets a new cookie rather than clearing it.
    const again = await loginAs(dead, undefined).expect(200);
    const fresh = setCookie(again, 'keel.sid')!;
    expect(fresh).not.toMatch(CLEARED);
    expect(pairOf(fresh)).not.toBe(dead);
    // A live session's answers never clear its cookie.
    const live = await request(keel.url)
      .get('/api/auth/me')
      .set('Cookie', pairOf(fresh))
      .expect(200);
    expect(setCookie(live, 'keel.sid')).toBeUndefined();
  });

  it("a disabled user's request ends the session and clears its cookie in the same answer", async () => {
    const id = await createUser(keel, 'oscar');
    const oscar = await signIn(keel, 'oscar');
    // Its sessions end with the change; the next answer of the dead cookie clears it.
    await keel.admin!.patch(`/api/users/${id}`, { disabled: true }).expect(200);
    const answer = await oscar.get('/api/auth/me').expect(401);
    expect(setCookie(answer, 'keel.sid')).toMatch(CLEARED);
  });
});
