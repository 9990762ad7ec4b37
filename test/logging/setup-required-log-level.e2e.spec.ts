import { setTimeout as delay } from 'node:timers/promises';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A frontend polls the API while first-run setup is pending and hears `503 setup_required`
// each time: that is the install's state, not a failure, so its request lines are info and the
// log does not fill with errors. Other errors keep their level.

const INFO = 30;
const WARN = 40;

describe('request lines before setup', () => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ completeSetup: false });
  });
  afterAll(async () => {
    await keel.close();
  });

  /** The request lines of `url`, once there are `count` (a line is written when the response closes). */
  async function requestLines(url: string, count: number) {
    const lines = () =>
      keel.logs.filter(
        (line) =>
          line.msg === 'request completed' &&
          (line.req as { url?: string } | undefined)?.url === url,
      );
    for (let tries = 0; lines().length < count && tries < 40; tries++) await delay(25);
    return lines();
  }

  it('503 setup_required is logged at info', async () => {
    for (let poll = 0; poll < 3; poll++) {
      const response = await request(keel.url).get('/api/auth/me').expect(503);
      expect(response.body.code).toBe('setup_required');
    }
    const lines = await requestLines('/api/auth/me', 3);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).toMatchObject({ level: INFO, res: { statusCode: 503 } });
    }
    expect(keel.logs.filter((line) => Number(line.level) >= 50)).toEqual([]);
  });

  it('other error answers keep their level: a 404 is warn', async () => {
    await request(keel.url).get('/api/no-such-route').expect(404);
    expect(await requestLines('/api/no-such-route', 1)).toEqual([
      expect.objectContaining({ level: WARN, res: { statusCode: 404 } }),
    ]);
  });
});
