import { createHmac } from 'node:crypto';
import request from 'supertest';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const OLD_SECRET = 'o'.repeat(40);
const NEW_SECRET = 'n'.repeat(40);

function setCookies(response: request.Response): string[] {
  return ([] as string[]).concat(response.headers['set-cookie'] ?? []);
}

describe('the session cookie', () => {
  let keel: TestApp;
  afterEach(async () => {
    await keel?.close();
  });

  it('over TLS through a trusted proxy: __Host- prefix, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', async () => {
    keel = await startTestApp({ env: { TRUST_PROXY: 'loopback' } });
    await createUser(keel, 'tls-user');
    const response = await request(keel.url)
      .post('/api/auth/login')
      .set('X-Forwarded-Proto', 'https')
      .send({ username: 'tls-user', password: TEST_PASSWORD })
      .expect(200);
    const [cookie] = setCookies(response);
    expect(cookie).toMatch(/^__Host-keel\.sid=/);
    for (const flag of [/;\s*Secure/i, /;\s*HttpOnly/i, /;\s*SameSite=Lax/i, /;\s*Path=\//]) {
      expect(cookie).toMatch(flag);
    }
    expect(cookie).not.toMatch(/Domain=/i);
    // The session works over TLS with that cookie.
    await request(keel.url)
      .get('/api/auth/me')
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', cookie.split(';')[0])
      .expect(200);
  });

  it('an untrusted X-Forwarded-Proto is ignored: plain cookie, not Secure', async () => {
    keel = await startTestApp();
    await createUser(keel, 'plain-user');
    const response = await request(keel.url)
      .post('/api/auth/login')
      .set('X-Forwarded-Proto', 'https')
      .send({ username: 'plain-user', password: TEST_PASSWORD })
      .expect(200);
    const [cookie] = setCookies(response);
    expect(cookie).toMatch(/^keel\.sid=/);
    expect(cookie).not.toMatch(/Secure/i);
  });

  it('session ids carry 256 random bits, and an id the server did not issue is never adopted', async () => {
    keel = await startTestApp();
    await createUser(keel, 'carl');
    const login = await request(keel.url)
      .post('/api/auth/login')
      .send({ username: 'carl', password: TEST_PASSWORD })
      .expect(200);
    const value = decodeURIComponent(setCookies(login)[0].split(';')[0].split('=')[1]);
    const sid = value.slice(2, value.lastIndexOf('.'));
    expect(Buffer.from(sid, 'base64url')).toHaveLength(32);

    // A forged id, even correctly signed (as if the secret leaked), names no session: the
    // server starts a fresh one with an id of its own.
    const secret = keel.app.get(
      (await import('../../src/auth/session-secrets.js')).SessionSecrets,
    ).signing;
    const forged = 'attacker-chosen-id-0000000000000000000000';
    const signature = createHmac('sha256', secret)
      .update(forged)
      .digest('base64')
      .replace(/=+$/, '');
    const cookie = `keel.sid=${encodeURIComponent(`s:${forged}.${signature}`)}`;
    const csrf = await request(keel.url).get('/api/auth/csrf').set('Cookie', cookie).expect(200);
    const issued = setCookies(csrf)[0];
    expect(issued).toBeDefined();
    expect(issued).not.toContain(forged);
  });

  it('SESSION_SECRET rotation: the newest secret signs, the older ones still verify', async () => {
    keel = await startTestApp({ env: { SESSION_SECRET: OLD_SECRET } });
    await createUser(keel, 'rotating');
    const login = await request(keel.url)
      .post('/api/auth/login')
      .send({ username: 'rotating', password: TEST_PASSWORD })
      .expect(200);
    const oldCookie = setCookies(login)[0].split(';')[0];
    const { dataDir, databaseUrl } = keel;
    await keel.close({ keepData: true });

    keel = await startTestApp({
      dataDir,
      databaseUrl,
      adoptData: true,
      env: { SESSION_SECRET: `${NEW_SECRET},${OLD_SECRET}` },
    });
    // The old cookie's session lived in memory, so it is gone; what matters is the signature:
    // a new login is signed with the new secret, and a cookie signed with the old one is accepted.
    const relogin = await request(keel.url)
      .post('/api/auth/login')
      .send({ username: 'rotating', password: TEST_PASSWORD })
      .expect(200);
    const newCookie = decodeURIComponent(setCookies(relogin)[0].split(';')[0].split('=')[1]);
    const sid = newCookie.slice(2, newCookie.lastIndexOf('.'));
    const sign = (secret: string) =>
      createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
    expect(newCookie).toBe(`s:${sid}.${sign(NEW_SECRET)}`);
    const withOldSignature = `keel.sid=${encodeURIComponent(`s:${sid}.${sign(OLD_SECRET)}`)}`;
    await request(keel.url).get('/api/auth/me').set('Cookie', withOldSignature).expect(200);
    expect(oldCookie).toBeDefined();
  });
});
