import request from 'supertest';
import { createUser, signIn, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

function cookieNamed(response: request.Response, name: string): string | undefined {
  const cookies = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  return cookies.find((cookie) => cookie.startsWith(`${name}=`));
}
const sessionCookie = (response: request.Response) => cookieNamed(response, 'keel.sid');

describe('login, me, logout', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp();
    await createUser(keel, 'alice', 'member');
  });
  afterAll(async () => {
    await keel.close();
  });

  it('login -> me -> logout -> me is 401; each login is a new id and the old one is dead', async () => {
    const agent = request.agent(keel.url);
    const csrf = await agent.get('/api/auth/csrf').expect(200);
    // Anonymous: a signed CSRF cookie, no session cookie (nothing is stored before sign-in).
    expect(sessionCookie(csrf)).toBeUndefined();
    const csrfCookie = cookieNamed(csrf, 'keel.csrf')!;
    for (const attribute of [/HttpOnly/i, /SameSite=Lax/i, /Path=\//]) {
      expect(csrfCookie).toMatch(attribute);
    }
    expect(csrfCookie).not.toMatch(/Domain=/i);

    const first = await agent
      .post('/api/auth/login')
      .set('X-CSRF-Token', csrf.body.csrfToken)
      .send({ username: 'Alice', password: TEST_PASSWORD })
      .expect(200);
    expect(first.body).toEqual({
      user: { id: expect.any(String), username: 'alice', email: null, role: 'member' },
      csrfToken: expect.any(String),
    });
    expect(first.body.csrfToken).not.toBe(csrf.body.csrfToken);
    const firstCookie = sessionCookie(first)!;
    for (const attribute of [/HttpOnly/i, /SameSite=Lax/i, /Path=\//]) {
      expect(firstCookie).toMatch(attribute);
    }
    expect(firstCookie).not.toMatch(/Domain=/i);
    // The session's own token takes over: the anonymous CSRF cookie is cleared.
    expect(cookieNamed(first, 'keel.csrf')).toMatch(/Expires=Thu, 01 Jan 1970/);

    // Signing in again (as a planted session would be) gives a new id; the old one is dead.
    const second = await agent
      .post('/api/auth/login')
      .set('X-CSRF-Token', first.body.csrfToken)
      .send({ username: 'alice', password: TEST_PASSWORD })
      .expect(200);
    const idOf = (cookie: string) => cookie.split(';')[0];
    const secondCookie = sessionCookie(second)!;
    expect(idOf(secondCookie)).not.toBe(idOf(firstCookie));
    await request(keel.url).get('/api/auth/me').set('Cookie', idOf(firstCookie)).expect(401);

    const me = await agent.get('/api/auth/me').expect(200);
    expect(me.body.user.username).toBe('alice');

    const logout = await agent
      .post('/api/auth/logout')
      .set('X-CSRF-Token', second.body.csrfToken)
      .expect(204);
    expect(sessionCookie(logout)).toMatch(/Expires=Thu, 01 Jan 1970/);
    const after = await agent.get('/api/auth/me').expect(401);
    expect(after.body).toMatchObject({ statusCode: 401, code: 'unauthenticated' });
    // The logged-in id is dead in the backend too, not only forgotten by this client.
    await request(keel.url).get('/api/auth/me').set('Cookie', idOf(secondCookie)).expect(401);
  });

  it('unknown user and wrong password get the same 401 invalid_credentials', async () => {
    const unknown = await request(keel.url)
      .post('/api/auth/login')
      .send({ username: 'nobody', password: TEST_PASSWORD })
      .expect(401);
    const wrong = await request(keel.url)
      .post('/api/auth/login')
      .send({ username: 'alice', password: 'not the password at all' })
      .expect(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.body).toEqual({
      statusCode: 401,
      code: 'invalid_credentials',
      message: expect.any(String),
    });
  });

  it('signIn helper works and the member cannot reach admin routes', async () => {
    const alice = await signIn(keel, 'alice');
    await alice.get('/api/settings').expect(403);
    await alice.get('/api/users').expect(403);
    await alice.get('/api/runtime').expect(403);
  });
});
