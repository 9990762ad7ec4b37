import request from 'supertest';
import { createUser, signIn, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

function sessionCookie(response: request.Response): string | undefined {
  const cookies = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  return cookies.find((cookie) => cookie.startsWith('keel.sid='));
}

describe('login, me, logout', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp();
    await createUser(keel, 'alice', 'member');
  });
  afterAll(async () => {
    await keel.close();
  });

  it('login -> me -> logout -> me is 401; the id changes at login and the old one is dead', async () => {
    const agent = request.agent(keel.url);
    const csrf = await agent.get('/api/auth/csrf').expect(200);
    const anonymousCookie = sessionCookie(csrf)!;
    expect(anonymousCookie).toMatch(/HttpOnly/i);
    expect(anonymousCookie).toMatch(/SameSite=Lax/i);
    expect(anonymousCookie).toMatch(/Path=\//);
    expect(anonymousCookie).not.toMatch(/Domain=/i);

    const login = await agent
      .post('/api/auth/login')
      .set('X-CSRF-Token', csrf.body.csrfToken)
      .send({ username: 'Alice', password: TEST_PASSWORD })
      .expect(200);
    expect(login.body).toEqual({
      user: { id: expect.any(String), username: 'alice', email: null, role: 'member' },
      csrfToken: expect.any(String),
    });
    expect(login.body.csrfToken).not.toBe(csrf.body.csrfToken);
    const loggedInCookie = sessionCookie(login)!;
    const idOf = (cookie: string) => cookie.split(';')[0];
    expect(idOf(loggedInCookie)).not.toBe(idOf(anonymousCookie));

    // The pre-login id no longer names any session.
    await request(keel.url).get('/api/auth/me').set('Cookie', idOf(anonymousCookie)).expect(401);

    const me = await agent.get('/api/auth/me').expect(200);
    expect(me.body.user.username).toBe('alice');

    await agent.post('/api/auth/logout').set('X-CSRF-Token', login.body.csrfToken).expect(204);
    const after = await agent.get('/api/auth/me').expect(401);
    expect(after.body).toMatchObject({ statusCode: 401, code: 'unauthenticated' });
    // The logged-in id is dead in the backend too, not only forgotten by this client.
    await request(keel.url).get('/api/auth/me').set('Cookie', idOf(loggedInCookie)).expect(401);
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
