import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN, printedToken } from './setup-helpers.js';

describe('the setup gate', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ completeSetup: false });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('before setup, /api routes answer 503 setup_required, ahead of auth, CSRF and roles', async () => {
    const client = request(keel.url);
    const gated: [string, request.Test][] = [
      ['GET /api/settings', client.get('/api/settings')],
      ['GET /api/users', client.get('/api/users')],
      ['GET /API/Users/', client.get('/API/Users/')],
      ['GET /api/runtime', client.get('/api/runtime')],
      ['GET /api/auth/me', client.get('/api/auth/me')],
      [
        'POST /api/auth/login',
        client.post('/api/auth/login').send({ username: 'x', password: 'y' }),
      ],
      ['POST /api/users', client.post('/api/users').send({})],
      // A session cookie without its CSRF token would be 403 once set up; first it is 503.
      [
        'POST /api/auth/logout',
        client.post('/api/auth/logout').set('Cookie', 'keel.sid=s%3Aforged.sig'),
      ],
    ];
    for (const [what, pending] of gated) {
      const response = await pending;
      expect({ what, status: response.status, body: response.body }).toEqual({
        what,
        status: 503,
        body: {
          statusCode: 503,
          code: 'setup_required',
          message: expect.stringContaining('/setup'),
        },
      });
    }
  });

  it('before setup, setup, the CSRF token, health and the setup page answer', async () => {
    const client = request(keel.url);
    expect((await client.get('/api/setup').expect(200)).body).toEqual({ required: true });
    expect((await client.get('/API/setup/').expect(200)).body).toEqual({ required: true });
    expect((await client.get('/api/auth/csrf').expect(200)).body.csrfToken).toEqual(
      expect.any(String),
    );
    for (const probe of ['/health/live', '/health/ready', '/health/startup']) {
      await client.get(probe).expect(200);
    }
    const page = await client.get('/setup').expect(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    await client
      .get('/assets/setup.js')
      .expect('Content-Type', /text\/javascript/)
      .expect(200);
    await client
      .get('/assets/setup.css')
      .expect('Content-Type', /text\/css/)
      .expect(200);
  });

  it('opens once setup is complete: the same requests reach auth', async () => {
    await request(keel.url)
      .post('/api/setup')
      .send({ token: printedToken(keel), admin: ADMIN })
      .expect(201);
    const client = request(keel.url);
    expect((await client.get('/api/users').expect(401)).body.code).toBe('unauthenticated');
    expect((await client.get('/api/settings').expect(401)).body.code).toBe('unauthenticated');
    await client.post('/api/auth/login').send(ADMIN).expect(200);
    expect((await client.get('/api/setup').expect(200)).body).toEqual({
      required: false,
      completedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
  });
});
