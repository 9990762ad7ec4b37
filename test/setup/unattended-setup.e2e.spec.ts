import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createPostgresDatabase, describeWithPostgres } from '../support/services.js';
import { startTestApp } from '../support/test-app.js';
import { logText, printedSetupUrl, setupRow, userCount } from './setup-helpers.js';

const PASSWORD = 'unattended passphrase 9f3a';

describe('unattended setup from the environment', () => {
  it('KEEL_ADMIN_USERNAME + KEEL_ADMIN_PASSWORD complete setup at start; no token, no password in the log', async () => {
    const keel = await startTestApp({
      completeSetup: false,
      env: { KEEL_ADMIN_USERNAME: 'ops', KEEL_ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: 'trace' },
    });
    try {
      expect((await request(keel.url).get('/api/setup').expect(200)).body.required).toBe(false);
      const login = await request(keel.url)
        .post('/api/auth/login')
        .send({ username: 'ops', password: PASSWORD })
        .expect(200);
      expect(login.body.user).toMatchObject({ username: 'ops', role: 'admin' });
      expect(await userCount(keel)).toBe(1);
      expect(printedSetupUrl(keel)).toBeUndefined();
      expect(existsSync(join(keel.dataDir, 'setup-token'))).toBe(false);
      const log = logText(keel);
      expect(log).toMatch(/Setup completed unattended: first admin \S+ \(ops\) created/);
      expect(log).not.toContain(PASSWORD);
      expect(log).not.toContain('$scrypt$');
    } finally {
      await keel.close();
    }
  });

  it('KEEL_ADMIN_PASSWORD_FILE reads a mounted secret (one trailing newline dropped)', async () => {
    const secrets = mkdtempSync(join(tmpdir(), 'keel-secret-'));
    const file = join(secrets, 'admin-password');
    writeFileSync(file, `${PASSWORD}\n`);
    chmodSync(file, 0o400);
    const keel = await startTestApp({
      completeSetup: false,
      env: { KEEL_ADMIN_USERNAME: 'ops', KEEL_ADMIN_PASSWORD_FILE: file },
    });
    try {
      await request(keel.url)
        .post('/api/auth/login')
        .send({ username: 'ops', password: PASSWORD })
        .expect(200);
      expect(logText(keel)).not.toContain(PASSWORD);
    } finally {
      await keel.close();
      rmSync(secrets, { recursive: true, force: true });
    }
  });

  it('after setup, a restart with the variables still set changes nothing', async () => {
    const env = { KEEL_ADMIN_USERNAME: 'ops', KEEL_ADMIN_PASSWORD: PASSWORD };
    const first = await startTestApp({ completeSetup: false, env });
    const completedAt = (await setupRow(first)).completed_at;
    await first.close({ keepData: true });
    const again = await startTestApp({
      completeSetup: false,
      dataDir: first.dataDir,
      databaseUrl: first.databaseUrl,
      adoptData: true,
      env: { ...env, KEEL_ADMIN_USERNAME: 'someone-else' },
    });
    try {
      expect(await userCount(again)).toBe(1);
      expect((await setupRow(again)).completed_at).toBe(completedAt);
      expect(logText(again)).not.toMatch(/Setup completed|Setup required/);
    } finally {
      await again.close();
    }
  });
});

describeWithPostgres('unattended setup on replicas starting together', () => {
  it('one PostgreSQL, three replicas with the same variables: one admin, setup done everywhere', async () => {
    const database = await createPostgresDatabase();
    const env = { KEEL_ADMIN_USERNAME: 'ops', KEEL_ADMIN_PASSWORD: PASSWORD };
    const replicas = await Promise.all(
      [1, 2, 3].map(() => startTestApp({ completeSetup: false, databaseUrl: database.url, env })),
    );
    try {
      expect(await userCount(replicas[0])).toBe(1);
      for (const replica of replicas) {
        expect((await request(replica.url).get('/api/setup').expect(200)).body.required).toBe(
          false,
        );
        await request(replica.url)
          .post('/api/auth/login')
          .send({ username: 'ops', password: PASSWORD })
          .expect(200);
      }
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
      await database.drop();
    }
  });
});

describe('an unusable unattended password stops the boot', () => {
  // The built server (npm test builds first), as an operator runs it.
  const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'bundle', 'main.js');

  it('exits 1 naming the variable, never the password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-unattended-'));
    const file = join(dir, 'admin-password');
    writeFileSync(file, 'too short\n');
    try {
      const run = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, [MAIN], {
          cwd: dir,
          env: {
            PATH: process.env.PATH ?? '',
            PORT: '0',
            HOST: '127.0.0.1',
            KEEL_ADMIN_USERNAME: 'ops',
            KEEL_ADMIN_PASSWORD_FILE: file,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, output });
        });
      });
      expect(run.code).toBe(1);
      expect(run.output).toContain(
        'Keel failed to start: KEEL_ADMIN_PASSWORD_FILE: the password must be 12 to 256 characters',
      );
      expect(run.output).not.toContain('too short');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
