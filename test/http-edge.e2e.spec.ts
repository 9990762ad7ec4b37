import { jest } from '@jest/globals';
import request from 'supertest';
import { UsersService } from '../src/users/users.service.js';
import { createUser, signIn } from './support/signed-in.js';
import { startTestApp, type TestApp } from './support/test-app.js';

describe('HTTP edge: every error has the contract shape', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp();
  });
  afterAll(async () => {
    await keel.close();
  });

  function expectErrorShape(body: unknown, statusCode: number, code: string) {
    expect(body).toEqual(
      expect.objectContaining({ statusCode, code, message: expect.any(String) }),
    );
    expect(JSON.stringify(body)).not.toMatch(/\bat .+:\d+:\d+|node_modules|Error:/);
  }

  it('answers an unknown route with 404 not_found', async () => {
    const response = await request(keel.url).get('/api/does-not-exist').expect(404);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    expectErrorShape(response.body, 404, 'not_found');
  });

  it('answers malformed JSON with 400 malformed_json', async () => {
    const response = await request(keel.url)
      .post('/api/anything')
      .set('Content-Type', 'application/json')
      .send('{"admin": ')
      .expect(400);
    expectErrorShape(response.body, 400, 'malformed_json');
  });

  it('answers a body over 100 kB with 413 payload_too_large', async () => {
    const response = await request(keel.url)
      .post('/api/anything')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ padding: 'x'.repeat(101 * 1024) }))
      .expect(413);
    expectErrorShape(response.body, 413, 'payload_too_large');
  });

  it('accepts a body just under the limit (it reaches routing: 404)', async () => {
    await request(keel.url)
      .post('/api/anything')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ padding: 'x'.repeat(99 * 1024) }))
      .expect(404);
  });

  it('answers a non-JSON body with 415 unsupported_media_type', async () => {
    const response = await request(keel.url)
      .post('/api/anything')
      .set('Content-Type', 'text/plain')
      .send('hello')
      .expect(415);
    expectErrorShape(response.body, 415, 'unsupported_media_type');
  });

  it('echoes a well-formed X-Request-Id and mints one otherwise', async () => {
    const given = await request(keel.url).get('/health/live').set('X-Request-Id', 'abc-123');
    expect(given.headers['x-request-id']).toBe('abc-123');
    const minted = await request(keel.url)
      .get('/health/live')
      .set('X-Request-Id', 'bad id with spaces');
    expect(minted.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets the security headers and hides the framework', async () => {
    const response = await request(keel.url).get('/health/live').expect(200);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-powered-by']).toBeUndefined();
  });

  it('logs requests as JSON lines with the request id, but not probes', async () => {
    await request(keel.url).get('/health/live').set('X-Request-Id', 'probe-1');
    await request(keel.url).get('/api/logged').set('X-Request-Id', 'logged-1');
    const requestLines = keel.logs.filter((line) => line.req);
    const ids = requestLines.map((line) => (line.req as { id: string }).id);
    expect(ids).toContain('logged-1');
    expect(ids).not.toContain('probe-1');
  });

  it('answers an unexpected error with a generic 500, logged with its request id and stack', async () => {
    await createUser(keel, 'edge-user');
    const client = await signIn(keel, 'edge-user');
    // A bug deep in a request: the user read throws something no filter knows.
    const users = keel.app.get(UsersService);
    const bug = jest
      .spyOn(users, 'findSignedIn')
      .mockRejectedValue(new TypeError('Cannot read properties of undefined (secret detail)'));
    try {
      const response = await client.get('/api/auth/me').set('X-Request-Id', 'edge-bug-1');
      expect(response.status).toBe(500);
      expectErrorShape(response.body, 500, 'internal_error');
      expect(JSON.stringify(response.body)).not.toContain('secret detail');
      expect(response.headers['x-request-id']).toBe('edge-bug-1');
    } finally {
      bug.mockRestore();
    }
    // The request's line is written when the response closes, which may trail the client.
    const linesOf = () =>
      keel.logs.filter((line) => (line.req as { id?: string } | undefined)?.id === 'edge-bug-1');
    for (let tries = 0; tries < 50 && linesOf().length < 2; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const lines = linesOf();
    const errorLine = lines.find((line) => line.msg === 'Unhandled error');
    expect(errorLine).toMatchObject({ level: 50, context: 'HttpExceptionFilter' });
    expect((errorLine!.err as { stack: string }).stack).toContain('secret detail');
    expect(lines.find((line) => line.msg === 'request completed')).toMatchObject({
      level: 50,
      res: { statusCode: 500 },
    });
  });
});
