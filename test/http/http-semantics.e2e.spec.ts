import request from 'supertest';
import { ActiveSessionBackend } from '../../src/session-cache/active-session-backend.js';
import type { SessionBackend } from '../../src/session-cache/session-backend.js';
import { FakeSharedBackend } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Every call a session backend answers. */
const SESSION_BACKEND_CALLS: (keyof SessionBackend)[] = [
  'get',
  'put',
  'update',
  'touch',
  'destroy',
  'entries',
  'length',
  'clear',
  'listByUser',
  'destroyByUser',
  'ping',
];

// The HTTP conventions of the contract (docs/api.md, "Conventions"): 405 with Allow for a known
// path, decided before the setup gate, auth and CSRF; ETag only on the settings, strong, with
// If-Match per RFC 9110; HSTS only over TLS; the merge patch's own media type.

describe('HTTP semantics', () => {
  describe('405 method_not_allowed', () => {
    let keel: TestApp;
    beforeAll(async () => {
      keel = await startTestApp({ admin: true });
    });
    afterAll(async () => {
      await keel.close();
    });

    // Allow lists the path's routes' methods (HEAD and OPTIONS work but are not listed).
    it.each([
      ['PUT', '/api/settings', 'GET, PATCH'],
      ['DELETE', '/api/auth/me', 'GET'],
      ['POST', '/health/live', 'GET'],
      ['GET', '/api/auth/logout', 'POST'],
      ['PUT', '/api/users/00000000-0000-4000-8000-000000000000', 'DELETE, PATCH'],
    ])('%s %s is 405 with Allow: %s', async (method, path, allow) => {
      const response = await request(keel.url)[method.toLowerCase() as 'put'](path).expect(405);
      expect(response.headers.allow).toBe(allow);
      expect(response.body).toEqual({
        statusCode: 405,
        code: 'method_not_allowed',
        message: `${method} is not allowed on ${path}: use ${allow}`,
      });
    });

    // CSRF is a guard, which runs only on a route that serves the method: it never meets a
    // wrong method, with or without this middleware. The body parser does.
    it('comes before the body is read: a signed-in client sending broken JSON (and no CSRF token) gets 405, not 400', async () => {
      const response = await keel
        .admin!.agent.put('/api/settings')
        .set('Content-Type', 'application/json')
        .send('{"not": "even read"')
        .expect(405);
      expect(response.body.code).toBe('method_not_allowed');
    });

    it('comes before the session: with the session store unreachable it is still 405, not 503', async () => {
      const active = keel.app.get(ActiveSessionBackend);
      const serving = active.backend;
      // A store every call to which fails, as an unreachable Redis does.
      const unreachable = new FakeSharedBackend('redis');
      for (const call of SESSION_BACKEND_CALLS) unreachable.failing.add(call);
      active.use(unreachable);
      try {
        // The store is down for whoever needs it: the same signed-in client is told so...
        const needsSession = await keel.admin!.get('/api/settings').expect(503);
        expect(needsSession.body.code).toBe('session_store_unavailable');
        unreachable.calls.length = 0;
        // ...but a wrong method is answered without asking it.
        const response = await keel
          .admin!.agent.put('/api/settings')
          .set('X-CSRF-Token', keel.admin!.csrfToken)
          .send({ values: {} })
          .expect(405);
        expect(response.headers.allow).toBe('GET, PATCH');
        expect(response.body.code).toBe('method_not_allowed');
        const options = await keel.admin!.agent.options('/api/settings').expect(204);
        expect(options.headers.allow).toBe('GET, PATCH');
        expect(unreachable.calls).toEqual([]);
      } finally {
        active.use(serving);
      }
    });

    it('leaves unknown paths to 404 and HEAD to GET routes; answers OPTIONS with Allow', async () => {
      expect((await request(keel.url).put('/api/nothing-here').expect(404)).body.code).toBe(
        'not_found',
      );
      await request(keel.url).head('/health/live').expect(200);
      const options = await request(keel.url).options('/api/settings').expect(204);
      expect(options.headers.allow).toBe('GET, PATCH');
      await request(keel.url).options('/api/nothing-here').expect(404);
    });
  });

  it('comes before the setup gate: a wrong method is 405 on a fresh install, not 503', async () => {
    const keel = await startTestApp({ completeSetup: false });
    try {
      const response = await request(keel.url).put('/api/settings').expect(405);
      expect(response.headers.allow).toBe('GET, PATCH');
      await request(keel.url).get('/api/settings').expect(503);
    } finally {
      await keel.close();
    }
  });

  describe('ETag and If-Match', () => {
    let keel: TestApp;
    beforeEach(async () => {
      keel = await startTestApp({ admin: true });
    });
    afterEach(async () => {
      await keel.close();
    });
    const patch = (ifMatch: string, siteName: string) =>
      keel.admin!.patch('/api/settings', { values: { siteName } }).set('If-Match', ifMatch);

    it('sends a strong ETag on the settings only: never on other answers, never on errors', async () => {
      expect((await keel.admin!.get('/api/settings').expect(200)).headers.etag).toBe('"0"');
      expect((await keel.admin!.get('/api/auth/me').expect(200)).headers.etag).toBeUndefined();
      expect((await keel.admin!.get('/api/users').expect(200)).headers.etag).toBeUndefined();
      expect(
        (await request(keel.url).get('/api/settings').expect(401)).headers.etag,
      ).toBeUndefined();
      const stale = await patch('"7"', 'Stale').expect(412);
      expect(stale.headers.etag).toBeUndefined();
      expect(stale.body.message).toBe(
        'Settings are at version 0, not 7: reload them and apply your change again',
      );
    });

    it('answers If-None-Match on GET /api/settings: 304 while the version is the same', async () => {
      const unchanged = await keel.admin!.get('/api/settings').set('If-None-Match', '"0"');
      expect(unchanged.status).toBe(304);
      expect(unchanged.headers.etag).toBe('"0"');
      expect(unchanged.text ?? '').toBe('');
      await keel.admin!.get('/api/settings').set('If-None-Match', 'W/"0"').expect(304);
      await keel.admin!.get('/api/settings').set('If-None-Match', '"1"').expect(200);
      await patch('"0"', 'Changed').expect(200);
      const changed = await keel.admin!.get('/api/settings').set('If-None-Match', '"0"');
      expect([changed.status, changed.headers.etag]).toEqual([200, '"1"']);
    });

    it('applies a change under If-Match: * at whatever version is current', async () => {
      await patch('"0"', 'One').expect(200);
      const response = await patch('*', 'Two').expect(200);
      expect(response.headers.etag).toBe('"2"');
      expect(response.body.values.siteName).toBe('Two');
    });

    it('matches a list when any member matches', async () => {
      await patch('"0"', 'One').expect(200);
      expect((await patch('"0", "1", "9"', 'Two').expect(200)).headers.etag).toBe('"2"');
      expect((await patch('"5",,"2" ', 'Three').expect(200)).headers.etag).toBe('"3"');
      await patch('"0", "1"', 'Late').expect(412);
    });

    it('never matches a weak tag (strong comparison)', async () => {
      const weak = await patch('W/"0"', 'Weak').expect(412);
      expect(weak.body.message).toContain('weak tags never match');
      await patch('W/"0", "0"', 'Strong one in the list').expect(200);
    });

    it('matches a tag only as the ETag writes the version: "00" is not version 0', async () => {
      const zeros = await patch('"00"', 'Leading zeros').expect(412);
      expect(zeros.body.message).toContain('no leading zeros');
      expect(zeros.body.message).not.toContain('weak');
      await patch('"0"', 'One').expect(200);
      await patch('"001"', 'Leading zeros').expect(412);
      expect((await keel.admin!.get('/api/settings')).body.values.siteName).toBe('One');
    });

    it('refuses an If-Match that is not a list of entity tags', async () => {
      for (const header of ['0', 'three', '"0" "1"', '*, "0"', '"0", W/']) {
        const response = await patch(header, 'X').expect(412);
        expect([header, response.body.code]).toEqual([header, 'version_conflict']);
      }
      expect((await keel.admin!.get('/api/settings')).body.version).toBe(0);
    });
  });

  describe('application/merge-patch+json', () => {
    let keel: TestApp;
    beforeAll(async () => {
      keel = await startTestApp({ admin: true });
    });
    afterAll(async () => {
      await keel.close();
    });

    it('is accepted by PATCH /api/settings, parsed as JSON is', async () => {
      const response = await keel
        .admin!.agent.patch('/api/settings')
        .set('X-CSRF-Token', keel.admin!.csrfToken)
        .set('If-Match', '*')
        .set('Content-Type', 'application/merge-patch+json')
        .send(JSON.stringify({ values: { siteName: 'Merged' } }))
        .expect(200);
      expect(response.body.values.siteName).toBe('Merged');
      const deep = await keel
        .admin!.agent.patch('/api/settings')
        .set('X-CSRF-Token', keel.admin!.csrfToken)
        .set('If-Match', '*')
        .set('Content-Type', 'application/merge-patch+json')
        .send(`{"values": ${'['.repeat(100)}${']'.repeat(100)}}`)
        .expect(400);
      expect(deep.body.code).toBe('malformed_json');
    });

    it('is accepted on every spelling of the path the router serves as /api/settings', async () => {
      // Express routes case-insensitively and ignores one trailing slash: the body parser must
      // judge the path as the router does, or the same route refuses its own media type.
      for (const path of ['/api/settings/', '/API/Settings', '/Api/SETTINGS/']) {
        const response = await keel
          .admin!.agent.patch(path)
          .set('X-CSRF-Token', keel.admin!.csrfToken)
          .set('If-Match', '*')
          .set('Content-Type', 'application/merge-patch+json')
          .send(JSON.stringify({ values: { siteName: `Merged at ${path}` } }));
        expect([path, response.status]).toEqual([path, 200]);
        expect(response.body.values.siteName).toBe(`Merged at ${path}`);
      }
    });

    it('refuses {"values": null} (400): the merge patch is the values, not the whole body', async () => {
      const response = await keel
        .admin!.agent.patch('/api/settings')
        .set('X-CSRF-Token', keel.admin!.csrfToken)
        .set('If-Match', '*')
        .set('Content-Type', 'application/merge-patch+json')
        .send('{"values": null}')
        .expect(400);
      expect(response.body.code).toBe('validation_failed');
      expect(new Set(response.body.fields.map(({ field }: { field: string }) => field))).toEqual(
        new Set(['values']),
      );
    });

    it('is refused (415) where the body is not a merge patch', async () => {
      const response = await keel
        .admin!.agent.post('/api/users')
        .set('X-CSRF-Token', keel.admin!.csrfToken)
        .set('Content-Type', 'application/merge-patch+json')
        .send(JSON.stringify({ username: 'x', password: 'long enough password', role: 'member' }))
        .expect(415);
      expect(response.body.code).toBe('unsupported_media_type');
    });
  });

  describe('HSTS', () => {
    let keel: TestApp;
    beforeAll(async () => {
      keel = await startTestApp({ env: { TRUST_PROXY: 'loopback' } });
    });
    afterAll(async () => {
      await keel.close();
    });

    it('is not sent over plain HTTP', async () => {
      const response = await request(keel.url).get('/health/live').expect(200);
      expect(response.headers['strict-transport-security']).toBeUndefined();
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    });

    it('is sent over TLS, here through a trusted proxy', async () => {
      const response = await request(keel.url)
        .get('/health/live')
        .set('X-Forwarded-Proto', 'https')
        .expect(200);
      expect(response.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    });

    it('is not sent for a forged X-Forwarded-Proto when no proxy is trusted', async () => {
      const untrusting = await startTestApp();
      try {
        const response = await request(untrusting.url)
          .get('/health/live')
          .set('X-Forwarded-Proto', 'https')
          .expect(200);
        expect(response.headers['strict-transport-security']).toBeUndefined();
        expect(response.headers['x-content-type-options']).toBe('nosniff');
      } finally {
        await untrusting.close();
      }
    });
  });
});
