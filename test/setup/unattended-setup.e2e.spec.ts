import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DatabaseService } from '../../src/database/database.service.js';
import { createPostgresDatabase, describeWithPostgres } from '../support/services.js';
import { startTestApp } from '../support/test-app.js';
import { logText, printedSetupUrl, setupRow, userCount } from './setup-helpers.js';

const PASSWORD = 'unattended passphrase 9f3a';
const BUILT = join(import.meta.dirname, '..', '..', 'dist');

/** What `npm run hash-password` prints for `password` given on stdin (the built tool). */
function hashPasswordTool(password: string): {
  status: number | null;
  stdout: string;
  stderr: string;
} {
  const run = spawnSync(process.execPath, [join(BUILT, 'tools', 'hash-password.js')], {
    input: `${password}\n`,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

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

  it('KEEL_ADMIN_PASSWORD_HASH from `npm run hash-password`: stored as given, the password signs in', async () => {
    const printed = hashPasswordTool(PASSWORD);
    expect(printed.status).toBe(0);
    const hash = printed.stdout.trim();
    expect(hash).toMatch(/^\$scrypt\$ln=17,r=8,p=1\$/);
    expect(printed.stdout + printed.stderr).not.toContain(PASSWORD);
    const keel = await startTestApp({
      completeSetup: false,
      env: { KEEL_ADMIN_USERNAME: 'ops', KEEL_ADMIN_PASSWORD_HASH: hash, LOG_LEVEL: 'trace' },
    });
    try {
      // Nothing was hashed at start: the admin's stored hash is the one given.
      const stored = await keel.app
        .get(DatabaseService)
        .db.selectFrom('users')
        .select('password_hash')
        .where('username', '=', 'ops')
        .executeTakeFirstOrThrow();
      expect(stored.password_hash).toBe(hash);
      await request(keel.url)
        .post('/api/auth/login')
        .send({ username: 'ops', password: PASSWORD })
        .expect(200);
      await request(keel.url)
        .post('/api/auth/login')
        .send({ username: 'ops', password: `${PASSWORD}x` })
        .expect(401);
      expect(logText(keel)).not.toContain(hash);
    } finally {
      await keel.close();
    }
  });

  it('npm run hash-password refuses a password the policy refuses, and prints nothing', () => {
    const printed = hashPasswordTool('too short');
    expect(printed.status).toBe(1);
    expect(printed.stdout).toBe('');
    expect(printed.stderr).toContain('The password must be 12 to 256 characters');
    expect(printed.stderr).not.toContain('too short');
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
  const MAIN = join(BUILT, 'bundle', 'main.js');
  /** Each test's working directory (the server's data and any password file). */
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keel-unattended-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the built server in `dir` with `env`; resolves to its exit code and output. */
  function runBuilt(env: Record<string, string>) {
    return new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [MAIN], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
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
  }

  it('exits 1 naming the variable, never the password', async () => {
    const file = join(dir, 'admin-password');
    writeFileSync(file, 'too short\n');
    const run = await runBuilt({ KEEL_ADMIN_USERNAME: 'ops', KEEL_ADMIN_PASSWORD_FILE: file });
    expect(run.code).toBe(1);
    expect(run.output).toContain(
      'Keel failed to start: KEEL_ADMIN_PASSWORD_FILE: the password must be 12 to 256 characters',
    );
    expect(run.output).not.toContain('too short');
  });

  it('a KEEL_ADMIN_PASSWORD_HASH weaker than what Keel stores, or not a hash: exits 1 naming it, never its value', async () => {
    // A well-formed scrypt hash at ln=14: what this Keel would upgrade at the next sign-in.
    const weak =
      '$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const weakRun = await runBuilt({ KEEL_ADMIN_USERNAME: 'ops', KEEL_ADMIN_PASSWORD_HASH: weak });
    expect(weakRun.code).toBe(1);
    expect(weakRun.output).toContain(
      "Keel failed to start: KEEL_ADMIN_PASSWORD_HASH: not a scrypt hash as strong as this Keel's (ln=17,r=8,p=1)",
    );
    expect(weakRun.output).not.toContain(weak);
    const plain = await runBuilt({
      KEEL_ADMIN_USERNAME: 'ops',
      KEEL_ADMIN_PASSWORD_HASH: PASSWORD,
    });
    expect(plain.code).toBe(1);
    expect(plain.output).toContain('KEEL_ADMIN_PASSWORD_HASH must be a scrypt hash');
    expect(plain.output).not.toContain(PASSWORD);
  });
});
