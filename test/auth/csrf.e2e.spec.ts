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
