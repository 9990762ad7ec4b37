import request from 'supertest';
import { DatabaseService } from '../../src/database/database.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const PASSWORD = 'a very secret passphrase 42';
const NEW_PASSWORD = 'another secret passphrase 43';

describe('no password, hash, session id or CSRF token leaks into a response or a log line', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ admin: true, env: { LOG_LEVEL: 'trace' } });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('a full run: create user, failed and good logins, me, sessions, password change, logout', async () => {
    const bodies: { path: string; text: string }[] = [];
    const record = (path: string, response: request.Response) => {
      bodies.push({ path, text: response.text ?? '' });
      return response;
    };
    const created = await keel.admin!.post('/api/users', {
      username: 'leaky',
      password: PASSWORD,
      email: 'leaky@example.com',
      role: 'member',
    });
    expect(record('/api/users', created).status).toBe(201);
    const agent = request.agent(keel.url);
    record(
      '/api/auth/login',
      await agent.post('/api/auth/login').send({ username: 'leaky', password: 'wrong guess 1234' }),
    );
    const login = record(
      '/api/auth/login',
      await agent.post('/api/auth/login').send({ username: 'leaky', password: PASSWORD }),
    );
    expect(login.status).toBe(200);
    const csrfToken = login.body.csrfToken as string;
    const sid = decodeURIComponent(
      ([] as string[]).concat(login.headers['set-cookie'])[0].split(';')[0].split('=')[1],
    );
    const rawSid = sid.slice(2, sid.lastIndexOf('.'));
    record('/api/auth/me', await agent.get('/api/auth/me'));
    record('/api/auth/sessions', await agent.get('/api/auth/sessions'));
    record(
      '/api/auth/password',
      await agent
        .post('/api/auth/password')
        .set('X-CSRF-Token', csrfToken)
        .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
    );
    record('/api/users', await keel.admin!.get('/api/users'));
    record('/api/auth/logout', await agent.post('/api/auth/logout').set('X-CSRF-Token', csrfToken));

    const hash = (
      await keel.app
        .get(DatabaseService)
        .db.selectFrom('users')
        .select('password_hash')
        .where('username_normalized', '=', 'leaky')
        .executeTakeFirstOrThrow()
    ).password_hash;
    const secrets = [PASSWORD, NEW_PASSWORD, hash, hash.split('$').pop()!, rawSid, sid, csrfToken];

    // Responses: only login (and GET /api/auth/csrf, setup) hand out the CSRF token, by contract.
    for (const { path, text } of bodies) {
      for (const secret of secrets) {
        if (secret === csrfToken && path === '/api/auth/login') continue;
        expect({ path, leaked: text.includes(secret) }).toEqual({ path, leaked: false });
      }
    }
    const logText = keel.logs.map((line) => JSON.stringify(line)).join('\n');
    expect(keel.logs.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(logText.includes(secret)).toBe(false);
    expect(logText).not.toMatch(/"cookie"\s*:\s*"keel/);
  });
});
