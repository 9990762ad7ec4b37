import { EnvironmentError, validateEnvironment } from './environment.js';

function problem(env: Record<string, string>): string {
  try {
    validateEnvironment(env);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvironmentError);
    return (error as Error).message;
  }
  throw new Error('expected the environment to be rejected');
}

describe('validateEnvironment', () => {
  it('gives the documented defaults for an empty environment', () => {
    const env = validateEnvironment({});
    expect(env).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      DATA_DIR: './data',
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_MS: 5000,
      SHUTDOWN_GRACE_MS: 10000,
      REDIS_PREFIX: 'keel:',
    });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
  });

  it('parses numbers and treats empty strings as unset', () => {
    const env = validateEnvironment({ PORT: '8080', REDIS_URL: '', SHUTDOWN_DRAIN_MS: '0' });
    expect(env.PORT).toBe(8080);
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.SHUTDOWN_DRAIN_MS).toBe(0);
  });

  it.each([
    [
      { PORT: 'abc' },
      /^Invalid environment: PORT must be an integer from 0 to 65535 \(got "abc"\)$/,
    ],
    [{ PORT: '70000' }, /PORT must be an integer from 0 to 65535/],
    [{ PORT: '3000.5' }, /PORT must be an integer/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ TRUST_PROXY: 'yes please' }, /TRUST_PROXY must be/],
    [{ SHUTDOWN_GRACE_MS: '-1' }, /SHUTDOWN_GRACE_MS must be an integer/],
    [{ REDIS_URL: 'http://x' }, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ METRICS_PORT: '0' }, /METRICS_PORT must be an integer from 1 to 65535/],
    [{ SETUP_TOKEN: 'short' }, /SETUP_TOKEN must be 24 to 256 characters/],
  ])('rejects %j with one line naming the variable', (env, expected) => {
    const message = problem(env);
    expect(message).toMatch(expected);
    expect(message).not.toContain('\n');
  });

  it('names DATABASE_URL without echoing it (it may hold a password)', () => {
    const message = problem({ DATABASE_URL: 'mysql://user:hunter2@db/x' });
    expect(message).toMatch(/DATABASE_URL must be a postgres:\/\//);
    expect(message).not.toContain('hunter2');
  });

  it('requires SESSION_SECRET in production, 32 characters or more', () => {
    expect(problem({ NODE_ENV: 'production' })).toMatch(/SESSION_SECRET/);
    expect(problem({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(10) })).toMatch(
      /SESSION_SECRET must be one or more comma-separated secrets of at least 32 characters/,
    );
    const env = validateEnvironment({
      NODE_ENV: 'production',
      SESSION_SECRET: `${'a'.repeat(32)},${'b'.repeat(40)}`,
    });
    expect(env.SESSION_SECRET).toContain(',');
  });

  it('names every bad variable at once', () => {
    const message = problem({ PORT: 'x', LOG_LEVEL: 'y' });
    expect(message).toMatch(/PORT/);
    expect(message).toMatch(/LOG_LEVEL/);
  });

  it('checks the unattended admin variables together', () => {
    expect(problem({ KEEL_ADMIN_USERNAME: 'root' })).toMatch(
      /KEEL_ADMIN_USERNAME needs KEEL_ADMIN_PASSWORD/,
    );
    expect(problem({ KEEL_ADMIN_PASSWORD: 'long enough password' })).toMatch(
      /KEEL_ADMIN_PASSWORD needs KEEL_ADMIN_USERNAME/,
    );
    expect(
      problem({
        KEEL_ADMIN_USERNAME: 'root',
        KEEL_ADMIN_PASSWORD: 'long enough password',
        KEEL_ADMIN_PASSWORD_FILE: '/run/secrets/pw',
      }),
    ).toMatch(/exclusive/);
    const hash =
      '$scrypt$ln=17,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    expect(
      validateEnvironment({ KEEL_ADMIN_USERNAME: 'root', KEEL_ADMIN_PASSWORD_HASH: hash })
        .KEEL_ADMIN_PASSWORD_HASH,
    ).toBe(hash);
    expect(problem({ KEEL_ADMIN_PASSWORD_HASH: hash })).toMatch(
      /KEEL_ADMIN_PASSWORD_HASH needs KEEL_ADMIN_USERNAME/,
    );
    expect(
      problem({
        KEEL_ADMIN_USERNAME: 'root',
        KEEL_ADMIN_PASSWORD_FILE: '/run/secrets/pw',
        KEEL_ADMIN_PASSWORD_HASH: hash,
      }),
    ).toMatch(/KEEL_ADMIN_PASSWORD_FILE and KEEL_ADMIN_PASSWORD_HASH are exclusive/);
    for (const notAHash of ['long enough password', `${hash}$`, hash.replace('ln=17', 'ln=x')]) {
      const message = problem({ KEEL_ADMIN_USERNAME: 'root', KEEL_ADMIN_PASSWORD_HASH: notAHash });
      expect(message).toMatch(/KEEL_ADMIN_PASSWORD_HASH must be a scrypt hash/);
      expect(message).not.toContain(notAHash);
    }
    const tooShort = problem({ KEEL_ADMIN_USERNAME: 'root', KEEL_ADMIN_PASSWORD: 'short' });
    expect(tooShort).toMatch(/KEEL_ADMIN_PASSWORD must be 12 to 256 characters/);
    expect(tooShort).not.toContain('short"');
  });
});
