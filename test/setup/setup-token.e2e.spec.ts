import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { hashSetupToken } from '../../src/setup/setup-token.js';
import { SettingsService } from '../../src/settings/settings.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  ADMIN,
  logText,
  printedSetupUrl,
  printedToken,
  setupRow,
  userCount,
} from './setup-helpers.js';

const setup = (keel: TestApp, body: object, ip = '10.1.1.1') =>
  request(keel.url).post('/api/setup').set('X-Forwarded-For', ip).send(body);

describe('the setup token', () => {
  let keel: TestApp;
  let token: string;
  beforeAll(async () => {
    // A trusted proxy lets the test present several client addresses.
    keel = await startTestApp({ completeSetup: false, env: { TRUST_PROXY: 'loopback' } });
    token = printedToken(keel);
  });
  afterAll(async () => {
    await keel.close();
  });

  it('is printed once as a URL with the real port, kept in DATA_DIR/setup-token (0600), stored only as a hash', async () => {
    const printed = printedSetupUrl(keel)!;
    expect(printed.url).toBe(`${keel.url}/setup#token=${token}`);
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16);
    // One line, found by `grep setup`, and no other line holds the token.
    const withToken = keel.logs.filter((line) => JSON.stringify(line).includes(token));
    expect(withToken).toEqual([
      expect.objectContaining({
        level: 40,
        context: 'SetupTokens',
        msg: expect.stringMatching(/^Setup required: open the setup link/),
        setupUrl: printed.url,
      }),
    ]);
    expect(withToken[0]!.msg).not.toContain(token);

    const file = join(keel.dataDir, 'setup-token');
    expect(readFileSync(file, 'utf8')).toBe(`${token}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const row = await setupRow(keel);
    expect(row).toMatchObject({ completed_at: null, token_hash: hashSetupToken(token) });
    expect(JSON.stringify(row)).not.toContain(token);
  });

  it('a wrong, empty or missing token is 401 setup_token_invalid, and nothing is written', async () => {
    const before = await setupRow(keel);
    for (const body of [
      { token: `${token.slice(0, -1)}x`, admin: ADMIN },
      { token: '', admin: ADMIN },
      { admin: ADMIN },
    ]) {
      const response = await setup(keel, body, '10.0.0.1').expect(401);
      expect(response.body).toEqual({
        statusCode: 401,
        code: 'setup_token_invalid',
        message: expect.any(String),
      });
      expect(response.headers['set-cookie']).toBeUndefined();
    }
    expect(await setupRow(keel)).toEqual(before);
    expect(await userCount(keel)).toBe(0);
    expect(keel.app.get(SettingsService).current.version).toBe(0);
    expect((await request(keel.url).get('/api/setup').expect(200)).body).toEqual({
      required: true,
    });
  });

  it('too many wrong tokens from one address: 429 with Retry-After there, even for the right token', async () => {
    // auth.loginMaxAttempts (10) per address; the previous test spent 3 of 10.0.0.1's.
    for (let i = 0; i < 10; i++) await setup(keel, { token: 'wrong', admin: ADMIN }, '10.0.0.2');
    const blocked = await setup(keel, { token, admin: ADMIN }, '10.0.0.2').expect(429);
    expect(blocked.body.code).toBe('too_many_requests');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(await userCount(keel)).toBe(0);
  });

  it('dies when setup completes: the token then gets 409, and the file is gone', async () => {
    await setup(keel, { token, admin: ADMIN }, '10.0.0.3').expect(201);
    const again = await setup(keel, { token, admin: { ...ADMIN, username: 'second' } }, '10.0.0.3');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('setup_completed');
    // Complete means 409 whatever the token.
    expect((await setup(keel, { token: 'wrong', admin: ADMIN }, '10.0.0.4')).status).toBe(409);
    expect(existsSync(join(keel.dataDir, 'setup-token'))).toBe(false);
    expect((await setupRow(keel)).token_hash).toBeNull();
    expect(await userCount(keel)).toBe(1);
  });
});

describe('restarts', () => {
  it('while setup is required, a restart keeps the token (it mints no other); after setup it prints none', async () => {
    const first = await startTestApp({ completeSetup: false });
    const token = printedToken(first);
    await first.close({ keepData: true });

    const restart = {
      completeSetup: false,
      dataDir: first.dataDir,
      databaseUrl: first.databaseUrl,
    };
    const second = await startTestApp(restart);
    try {
      expect(printedSetupUrl(second)).toBeUndefined();
      expect(logText(second)).not.toContain(token);
      expect(logText(second)).toContain(`it is in ${join(first.dataDir, 'setup-token')}`);
      await request(second.url).post('/api/setup').send({ token, admin: ADMIN }).expect(201);
    } finally {
      await second.close({ keepData: true });
    }

    const third = await startTestApp({ ...restart, adoptData: true });
    try {
      expect(logText(third)).not.toMatch(/Setup required|setup#token=/);
      expect(logText(third)).not.toContain(token);
      expect(existsSync(join(first.dataDir, 'setup-token'))).toBe(false);
      expect((await request(third.url).get('/api/setup').expect(200)).body.required).toBe(false);
    } finally {
      await third.close();
    }
  });
});

describe('SETUP_TOKEN', () => {
  const PRESET = 'preset-token-for-automated-installs-0123456789';

  it('presets the token: its hash is stored, the value is never logged or written to a file', async () => {
    const keel = await startTestApp({ completeSetup: false, env: { SETUP_TOKEN: PRESET } });
    try {
      expect((await setupRow(keel)).token_hash).toBe(hashSetupToken(PRESET));
      expect(logText(keel)).not.toContain(PRESET);
      expect(logText(keel)).toContain('#token=<SETUP_TOKEN>');
      expect(existsSync(join(keel.dataDir, 'setup-token'))).toBe(false);
      await request(keel.url).post('/api/setup').send({ token: 'wrong', admin: ADMIN }).expect(401);
      await request(keel.url).post('/api/setup').send({ token: PRESET, admin: ADMIN }).expect(201);
    } finally {
      await keel.close();
    }
  });

  it('replaces a token an earlier start minted, whose file is removed', async () => {
    const first = await startTestApp({ completeSetup: false });
    const minted = printedToken(first);
    await first.close({ keepData: true });
    const keel = await startTestApp({
      completeSetup: false,
      dataDir: first.dataDir,
      databaseUrl: first.databaseUrl,
      adoptData: true,
      env: { SETUP_TOKEN: PRESET },
    });
    try {
      expect(existsSync(join(first.dataDir, 'setup-token'))).toBe(false);
      await request(keel.url).post('/api/setup').send({ token: minted, admin: ADMIN }).expect(401);
      await request(keel.url).post('/api/setup').send({ token: PRESET, admin: ADMIN }).expect(201);
    } finally {
      await keel.close();
    }
  });
});
