import { POSTGRES_URL } from '../support/services.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN, printedToken, setupRow, userCount } from './setup-helpers.js';

const dialects: ('sqlite' | 'postgres')[] = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(dialects)('50 concurrent setups on %s', (dialect) => {
  let keel: TestApp;
  beforeAll(async () => {
    // Behind a proxy, so each racer can come from an address of its own (X-Forwarded-For).
    keel = await startTestApp({
      dialect,
      completeSetup: false,
      env: { TRUST_PROXY: 'loopback' },
    });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('exactly one 201, the other 49 get 409 setup_completed, and one admin exists', async () => {
    const token = printedToken(keel);
    // Fifty racers on fifty addresses: from one address, the attempt limiter counts attempts
    // still in flight, so on a slow machine more than `loginMaxAttempts` of them overlap and
    // the rest are answered 429 before they reach the race (right for a flood from one address;
    // the limit itself: setup-token.e2e). Here the setup row must decide every one.
    const attempts = Array.from({ length: 50 }, (_, i) =>
      fetch(`${keel.url}/api/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `203.0.113.${i + 1}` },
        // Different usernames: the setup row, not the username constraint, must decide.
        body: JSON.stringify({ token, admin: { ...ADMIN, username: `racer${i}` } }),
      }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as { code?: string; user?: { username: string } },
      })),
    );
    const answers = await Promise.all(attempts);

    // Every answer, tallied by status and code: a failure shows what the others got.
    const tally: Record<string, number> = {};
    for (const { status, body } of answers) {
      const key = body.code ? `${status} ${body.code}` : String(status);
      tally[key] = (tally[key] ?? 0) + 1;
    }
    expect(tally).toEqual({ '201': 1, '409 setup_completed': 49 });
    const won = answers.filter((answer) => answer.status === 201);

    expect(await userCount(keel)).toBe(1);
    const row = await setupRow(keel);
    expect(row.completed_at).not.toBeNull();
    expect(row.token_hash).toBeNull();
    const winner = won[0].body.user!.username;
    const users = await keel.app
      .get((await import('../../src/users/users.service.js')).UsersService)
      .list();
    expect(users.map((user) => [user.username, user.role])).toEqual([[winner, 'admin']]);
    expect(row.admin_user_id).toBe(users[0].id);
  });
});
