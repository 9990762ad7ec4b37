import request from 'supertest';
import { type BuiltAppProcess, startBuiltApp } from '../support/built-app-process.js';
import { createPostgresDatabase, describeWithPostgres } from '../support/services.js';
import { ADMIN, logText, printedSetupUrl } from './setup-helpers.js';

// Replicas are processes (the built server; npm test builds first), each with its own DATA_DIR,
// sharing one PostgreSQL, started at the same moment.
describeWithPostgres('two replicas on one PostgreSQL', () => {
  it('mint one token between them, good on either; after setup on one, the other sees it and opens its gate', async () => {
    const database = await createPostgresDatabase();
    const replicas: BuiltAppProcess[] = [];
    try {
      replicas.push(
        ...(await Promise.all([
          startBuiltApp({ DATABASE_URL: database.url }),
          startBuiltApp({ DATABASE_URL: database.url }),
        ])),
      );
      const printed = replicas.map((replica) => printedSetupUrl(replica));
      expect(printed.filter(Boolean)).toHaveLength(1);
      const minterIndex = printed[0] ? 0 : 1;
      const minter = replicas[minterIndex];
      const other = replicas[1 - minterIndex];
      const { token } = printed[minterIndex]!;
      expect(logText(other)).not.toContain(token);
      expect(other.logs).toContainEqual(
        expect.objectContaining({
          msg: expect.stringMatching(
            /^Setup required: open the setup link with the setup token .*printed it in its log/,
          ),
          setupUrl: expect.stringMatching(/^http:\/\/\S+\/setup$/),
        }),
      );

      // The token is checked before the settings, so "400 on settings" means "token accepted"
      // without completing setup: the token is good on both replicas, a wrong one on neither.
      for (const replica of [minter, other]) {
        const probe = (probeToken: string) =>
          request(replica.url)
            .post('/api/setup')
            .send({ token: probeToken, admin: ADMIN, settings: { unknownSetting: 1 } });
        expect((await probe(token)).body.fields).toEqual([
          { field: 'settings.unknownSetting', message: expect.any(String) },
        ]);
        expect((await probe('not-the-token')).status).toBe(401);
      }
      expect((await request(minter.url).get('/api/setup').expect(200)).body.required).toBe(true);
      await request(minter.url).get('/api/users').expect(503);

      const created = await request(other.url)
        .post('/api/setup')
        .send({ token, admin: ADMIN })
        .expect(201);
      expect(created.body.user).toMatchObject({ username: ADMIN.username, role: 'admin' });

      // The minter reads the database while setup is required, so it knows at once.
      expect((await request(minter.url).get('/api/setup').expect(200)).body).toEqual({
        required: false,
        completedAt: expect.any(String),
      });
      expect((await request(minter.url).get('/api/users').expect(401)).body.code).toBe(
        'unauthenticated',
      );
      await request(minter.url).post('/api/auth/login').send(ADMIN).expect(200);
      const late = await request(minter.url).post('/api/setup').send({ token, admin: ADMIN });
      expect(late.body.code).toBe('setup_completed');
    } finally {
      await Promise.all(replicas.map((replica) => replica.cleanup()));
      await database.drop();
    }
  });
});
