import { jest } from '@jest/globals';
import { connect } from 'node:net';
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

  it("answers what Node's parser refuses in the contract shape, with X-Request-Id and the security headers", async () => {
    const cases = [
      ['GARBAGE\r\n\r\n', 400, 'malformed_request'],
      [
        `GET /health/live HTTP/1.1\r\nX-Big: ${'x'.repeat(17 * 1024)}\r\n\r\n`,
        431,
        'headers_too_large',
      ],
    ] as const;
    for (const [sent, statusCode, code] of cases) {
      const { status, headers, body } = parseAnswer(await rawExchange(keel.url, sent));
      expect([code, status]).toEqual([code, statusCode]);
      expectErrorShape(JSON.parse(body), statusCode, code);
      expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['content-security-policy']).toContain("default-src 'self'");
      // Plain HTTP: no HSTS, as on every other answer.
      expect(headers['strict-transport-security']).toBeUndefined();
      // The id finds the refusal's line in the log.
      expect(
        keel.logs.find(
          (line) => (line.req as { id?: string } | undefined)?.id === headers['x-request-id'],
        ),
      ).toMatchObject({ level: 40, res: { statusCode }, code });
    }
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

/** Sends `text` on a new connection to `url` and resolves to all the server wrote back. */
function rawExchange(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

/** A raw HTTP/1.1 answer's status, headers (lower-cased names) and body. */
function parseAnswer(raw: string): {
  status: number;
  headers: Record<string, string>;
  body: string;
} {
  const [head = '', body = ''] = raw.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}
