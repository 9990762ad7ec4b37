import { POSTGRES_URL } from '../support/services.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN, printedToken, setupRow, userCount } from './setup-helpers.js';

const dialects: ('sqlite' | 'postgres')[] = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(dialects)('50 concurrent setups on %s', (dialect) => {
  let keel: TestApp;
  beforeAll(async () => {
    keel = await startTestApp({ dialect, completeSetup: false });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('exactly one 201, the other 49 get 409 setup_completed, and one admin exists', async () => {
    const token = printedToken(keel);
    const attempts = Array.from({ length: 50 }, (_, i) =>
      fetch(`${keel.url}/api/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // Different usernames: the setup row, not the username constraint, must decide.
        body: JSON.stringify({ token, admin: { ...ADMIN, username: `racer${i}` } }),
      }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as { code?: string; user?: { username: string } },
      })),
    );
    const answers = await Promise.all(attempts);

    const won = answers.filter((answer) => answer.status === 201);
    const lost = answers.filter((answer) => answer.status === 409);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(49);
    for (const answer of lost) expect(answer.body.code).toBe('setup_completed');

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
