import request from 'supertest';
import { DatabaseService } from '../../src/database/database.service.js';
import { ApiError } from '../../src/http/api-error.js';
import { PasswordHasher } from '../../src/users/password-hasher.js';
import {
  USER_SESSION_REVOKER,
  type UserSessionRevoker,
} from '../../src/users/user-session-revoker.js';
import { UsersService } from '../../src/users/users.service.js';
import { POSTGRES_URL } from '../support/services.js';
import {
  createUser as createUserDirectly,
  signIn,
  type SignedInClient,
  TEST_PASSWORD,
} from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const dialects: ('sqlite' | 'postgres')[] = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

// startTestApp hashes with cheap scrypt (TEST_SCRYPT_PARAMETERS) for speed; the OWASP defaults
// are exercised in "production wiring" below.
const PASSWORD = 'a long enough passphrase';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** Stands in for the session cache: records who was signed out, or fails like a lost store. */
class RecordingRevoker implements UserSessionRevoker {
  readonly calls: { userId: string; exceptSessionId?: string }[] = [];
  failure: Error | undefined;

  revokeAll(userId: string, exceptSessionId?: string): Promise<number> {
    this.calls.push({ userId, ...(exceptSessionId ? { exceptSessionId } : {}) });
    return this.failure ? Promise.reject(this.failure) : Promise.resolve(1);
  }

  revokedIds(): string[] {
    return this.calls.map((call) => call.userId);
  }
}

interface PublicUserBody {
  id: string;
  username: string;
  email: string | null;
  role: 'admin' | 'member';
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

describe('users API is admin only', () => {
  it('denies every route to a caller who is not an admin, changing nothing', async () => {
    const keel = await startTestApp();
    try {
      const memberId = await createUserDirectly(keel, 'member', 'member');
      const users = keel.app.get(UsersService);
      const before = await users.list();

      const anonymous = [
        await request(keel.url).get('/api/users'),
        await request(keel.url)
          .post('/api/users')
          .send({ username: 'mallory', password: PASSWORD, role: 'admin' }),
        await request(keel.url).patch(`/api/users/${memberId}`).send({ role: 'admin' }),
        await request(keel.url).patch(`/api/users/${UNKNOWN_ID}`).send({ role: 'admin' }),
        await request(keel.url).delete(`/api/users/${memberId}`),
        await request(keel.url).delete(`/api/users/${UNKNOWN_ID}`),
      ];
      for (const response of anonymous) {
        expect(response.status).toBe(401);
        expect(response.body).toMatchObject({ statusCode: 401, code: 'unauthenticated' });
      }

      // A signed-in member, CSRF token and all, cannot promote or delete itself or anyone.
      const member = await signIn(keel, 'member');
      const asMember = [
        await member.get('/api/users'),
        await member.post('/api/users', { username: 'mallory', password: PASSWORD, role: 'admin' }),
        await member.patch(`/api/users/${memberId}`, { role: 'admin' }),
        await member.patch(`/api/users/${UNKNOWN_ID}`, { role: 'admin' }),
        await member.delete(`/api/users/${memberId}`),
        await member.delete(`/api/users/${UNKNOWN_ID}`),
      ];
      for (const response of asMember) {
        expect(response.status).toBe(403);
        expect(response.body).toMatchObject({ statusCode: 403, code: 'forbidden' });
      }
      expect(await users.list()).toEqual(before);
      expect(before.map((user) => [user.username, user.role])).toEqual([['member', 'member']]);
    } finally {
      await keel.close();
    }
  });
});

describe('production wiring', () => {
  it('hashes with the OWASP parameters unless a test overrides them', async () => {
    const keel = await startTestApp({ realPasswordHashing: true, admin: true });
    try {
      expect(keel.app.get(PasswordHasher).parameters).toMatchObject({ logN: 17, r: 8, p: 1 });
      const created = await keel
        .admin!.post('/api/users', { username: 'owasp', password: PASSWORD, role: 'admin' })
        .expect(201);
      const row = await keel.app
        .get(DatabaseService)
        .db.selectFrom('users')
        .select('password_hash')
        .where('id', '=', created.body.id)
        .executeTakeFirstOrThrow();
      expect(row.password_hash.startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);
    } finally {
      await keel.close();
    }
  });
});

describe.each(dialects)('users API on %s', (dialect) => {
  let keel: TestApp;
  const revoker = new RecordingRevoker();
  /** Every response body of the suite, to prove no hash ever left the server. */
  const bodies: string[] = [];

  /** The acting admin (`keel.admin`): signed in, and an enabled admin at the start of each test. */
  let admin: SignedInClient;
  /** How `GET /api/users` shows the acting admin at the start of each test. */
  let adminUser: PublicUserBody;

  beforeAll(async () => {
    keel = await startTestApp({
      dialect,
      admin: true,
      overrideProviders: [{ token: USER_SESSION_REVOKER, value: revoker }],
    });
    admin = keel.admin!;
  });
  beforeEach(async () => {
    // Everyone but the acting admin goes. Its row stays (the guard re-reads it on every
    // request: without it the client would get 401), and is put back to an enabled admin.
    const db = keel.app.get(DatabaseService).db;
    await db.deleteFrom('users').where('id', '!=', admin.userId).execute();
    // Through the service, so the guard's short-lived cache of the user is dropped too.
    await keel.app
      .get(UsersService)
      .update(admin.userId, { role: 'admin', disabled: false, email: null });
    revoker.calls.length = 0;
    revoker.failure = undefined;
    adminUser = (await list()).find((user) => user.id === admin.userId)!;
    expect(adminUser).toMatchObject({ username: 'admin', role: 'admin', disabled: false });
    expect(await enabledAdmins()).toBe(1);
  });
  afterAll(async () => {
    await keel.close();
    // No response and no log line ever carried a hash or a password.
    for (const text of [...bodies, JSON.stringify(keel.logs)]) {
      expect(text).not.toContain('$scrypt$');
      expect(text).not.toMatch(/"password_?hash"\s*:/i);
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(TEST_PASSWORD);
    }
  });

  const record = (response: request.Response) => {
    bodies.push(response.text ?? '');
    return response;
  };
  const list = async () =>
    record(await admin.get('/api/users').expect(200)).body as PublicUserBody[];
  const create = async (body: object) => record(await admin.post('/api/users', body));
  const patch = async (id: string, body: object) =>
    record(await admin.patch(`/api/users/${id}`, body));
  const remove = async (id: string) => record(await admin.delete(`/api/users/${id}`));
  const createUser = async (username: string, role: 'admin' | 'member' = 'member') => {
    const response = await create({ username, password: PASSWORD, role });
    expect(response.status).toBe(201);
    return response.body as PublicUserBody;
  };
  const fieldsOf = (response: request.Response) =>
    (response.body.fields as { field: string }[]).map((f) => f.field);
  const enabledAdmins = async () => keel.app.get(UsersService).countEnabledAdmins();

  it('creates, lists, patches and deletes a user, showing only the public shape', async () => {
    const created = await create({
      username: 'Alice',
      password: PASSWORD,
      email: 'alice@example.com',
      role: 'member',
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
      username: 'Alice',
      email: 'alice@example.com',
      role: 'member',
      disabled: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      updatedAt: created.body.createdAt,
    });
    const alice = created.body as PublicUserBody;
    expect(await list()).toEqual([adminUser, alice]);

    await new Promise((resolve) => setTimeout(resolve, 5));
    const patched = await patch(alice.id, { email: 'a@example.org', role: 'admin' });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({
      ...alice,
      email: 'a@example.org',
      role: 'admin',
      updatedAt: expect.any(String),
    });
    expect(Date.parse(patched.body.updatedAt)).toBeGreaterThan(Date.parse(alice.createdAt));
    expect((await patch(alice.id, { email: null })).body.email).toBeNull();
    expect(await list()).toEqual([
      adminUser,
      {
        ...patched.body,
        email: null,
        updatedAt: expect.any(String),
      },
    ]);

    await createUser('bob', 'admin');
    const deleted = await remove(alice.id);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect((await list()).map((user) => user.username)).toEqual(['admin', 'bob']);
  });

  it('stores only a scrypt hash, with the parameters it was made with', async () => {
    const alice = await createUser('alice');
    const row = await keel.app
      .get(DatabaseService)
      .db.selectFrom('users')
      .selectAll()
      .where('id', '=', alice.id)
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
    expect(row.username_normalized).toBe('alice');
    expect(JSON.stringify(row)).not.toContain(PASSWORD);
  });

  it('refuses a username taken in another letter case: 409 username_taken', async () => {
    await createUser('Alice');
    for (const username of ['alice', 'ALICE', 'aLiCe']) {
      const taken = await create({ username, password: PASSWORD, role: 'member' });
      expect(taken.status).toBe(409);
      expect(taken.body).toMatchObject({ statusCode: 409, code: 'username_taken' });
    }
    // Racing creates of one name: the unique constraint lets exactly one through.
    const racers = await Promise.all(
      ['Carol', 'carol', 'CAROL', 'caRol', 'CaroL'].map((username) =>
        create({ username, password: PASSWORD, role: 'member' }),
      ),
    );
    expect(racers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect((await list()).map((user) => user.username.toLowerCase()).sort()).toEqual([
      'admin',
      'alice',
      'carol',
    ]);
  });

  it('finds users by username in any letter case', async () => {
    const alice = await createUser('Alice');
    const users = keel.app.get(UsersService);
    expect((await users.findByUsername('aLICE'))?.id).toBe(alice.id);
    expect(await users.findByUsername('alicia')).toBeUndefined();
    expect((await users.findById(alice.id))?.username).toBe('Alice');
    expect(await users.findById('not-a-uuid')).toBeUndefined();
  });

  it('enforces the password policy: 12 to 256 characters, nothing else', async () => {
    const tooShort = await create({ username: 'short', password: 'a'.repeat(11), role: 'member' });
    expect(tooShort.status).toBe(400);
    expect(tooShort.body.code).toBe('validation_failed');
    expect(fieldsOf(tooShort)).toEqual(['password']);
    expect(tooShort.body.fields[0].message).toBe('password must be 12 to 256 characters');

    expect(
      (await create({ username: 'twelve', password: 'a'.repeat(12), role: 'member' })).status,
    ).toBe(201);
    expect(
      (await create({ username: 'long', password: 'a'.repeat(256), role: 'member' })).status,
    ).toBe(201);
    const tooLong = await create({
      username: 'toolong',
      password: 'a'.repeat(257),
      role: 'member',
    });
    expect(tooLong.status).toBe(400);
    expect(fieldsOf(tooLong)).toEqual(['password']);
    // Characters, not UTF-16 units: twelve emoji are twelve characters.
    expect(
      (await create({ username: 'emoji', password: '🔑'.repeat(12), role: 'member' })).status,
    ).toBe(201);
    expect(
      (await create({ username: 'emoji2', password: '🔑'.repeat(11), role: 'member' })).status,
    ).toBe(400);

    const member = (await list()).find((user) => user.username === 'twelve')!;
    const shortPatch = await patch(member.id, { password: 'b'.repeat(11) });
    expect(shortPatch.status).toBe(400);
    expect(fieldsOf(shortPatch)).toEqual(['password']);
  });

  it.each([
    [
      'an unknown field',
      { username: 'dave', password: PASSWORD, role: 'member', isAdmin: true },
      'isAdmin',
    ],
    ['a bad username', { username: 'da ve', password: PASSWORD, role: 'member' }, 'username'],
    ['a too short username', { username: 'dv', password: PASSWORD, role: 'member' }, 'username'],
    [
      'a bad email',
      { username: 'dave', password: PASSWORD, role: 'member', email: 'dave' },
      'email',
    ],
    [
      'a too long email',
      {
        username: 'dave',
        password: PASSWORD,
        role: 'member',
        email: `${'d'.repeat(64)}@${'e'.repeat(63)}.${'f'.repeat(63)}.${'g'.repeat(63)}.com`,
      },
      'email',
    ],
    ['an unknown role', { username: 'dave', password: PASSWORD, role: 'owner' }, 'role'],
    ['no role', { username: 'dave', password: PASSWORD }, 'role'],
    ['no password', { username: 'dave', role: 'member' }, 'password'],
  ])('POST with %s is 400 naming the field, creating nothing', async (_what, body, field) => {
    const response = await create(body);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(fieldsOf(response)).toContain(field);
    expect(await list()).toEqual([adminUser]);
  });

  it('PATCH refuses unknown fields, nulls that mean nothing, and an empty body', async () => {
    const dave = await createUser('dave');
    for (const [body, field] of [
      [{ role: 'admin', username: 'root' }, 'username'],
      [{ passwordHash: 'x' }, 'passwordHash'],
      [{ role: null }, 'role'],
      [{ disabled: null }, 'disabled'],
      [{ disabled: 'yes' }, 'disabled'],
      [{ password: null }, 'password'],
      [{}, 'email'],
    ] as const) {
      const response = await patch(dave.id, body);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(fieldsOf(response)).toContain(field);
    }
    expect(await list()).toEqual([adminUser, dave]);
  });

  it('answers 404 not_found for an id that names no user', async () => {
    for (const id of [UNKNOWN_ID, 'not-a-uuid']) {
      const patched = await patch(id, { role: 'admin' });
      expect(patched.status).toBe(404);
      expect(patched.body.code).toBe('not_found');
      const deleted = await remove(id);
      expect(deleted.status).toBe(404);
      expect(deleted.body.code).toBe('not_found');
    }
  });

  it('sets a new password that then verifies, and signs the user out', async () => {
    const erin = await createUser('erin');
    const users = keel.app.get(UsersService);
    expect((await users.verifyCredentials('Erin', PASSWORD))?.id).toBe(erin.id);
    expect((await patch(erin.id, { password: 'a brand new passphrase' })).status).toBe(200);
    expect(await users.verifyCredentials('erin', PASSWORD)).toBeUndefined();
    expect((await users.verifyCredentials('erin', 'a brand new passphrase'))?.id).toBe(erin.id);
    expect(revoker.calls).toEqual([{ userId: erin.id }]);
    // The own-password route keeps the caller's session.
    await users.update(
      erin.id,
      { password: 'yet another passphrase' },
      { keepSessionId: 'current' },
    );
    expect(revoker.calls[1]).toEqual({ userId: erin.id, exceptSessionId: 'current' });
  });

  it('verifyCredentials: unknown, wrong and disabled all fail alike; weak hashes are upgraded', async () => {
    const users = keel.app.get(UsersService);
    const frank = await createUser('frank');
    expect(await users.verifyCredentials('nobody', PASSWORD)).toBeUndefined();
    expect(await users.verifyCredentials('frank', 'not the passphrase')).toBeUndefined();

    const weak = await new PasswordHasher({ logN: 8 }).hash(PASSWORD);
    const db = keel.app.get(DatabaseService).db;
    await db.updateTable('users').set({ password_hash: weak }).where('id', '=', frank.id).execute();
    expect((await users.verifyCredentials('frank', PASSWORD))?.id).toBe(frank.id);
    const upgraded = await db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', frank.id)
      .executeTakeFirstOrThrow();
    expect(upgraded.password_hash).toMatch(/^\$scrypt\$ln=10,/);
    expect((await users.verifyCredentials('frank', PASSWORD))?.id).toBe(frank.id);

    await createUser('grace', 'admin');
    expect((await patch(frank.id, { disabled: true })).status).toBe(200);
    expect(await users.verifyCredentials('frank', PASSWORD)).toBeUndefined();
  });

  it('the last enabled admin cannot be deleted, demoted or disabled: 409 last_admin', async () => {
    // The acting admin is the only admin: it is "root" here. Through the API the last enabled
    // admin is always the caller (anyone else acting would be no admin).
    const rootId = admin.userId;
    const member = await createUser('member');
    const attempts = [
      () => remove(rootId),
      () => patch(rootId, { role: 'member' }),
      () => patch(rootId, { disabled: true }),
      () => patch(rootId, { role: 'member', email: 'root@example.com' }),
    ];
    for (const attempt of attempts) {
      const response = await attempt();
      expect(response.status).toBe(409);
      expect(response.body).toMatchObject({ statusCode: 409, code: 'last_admin' });
    }
    // A disabled admin does not count: root is still the last one who can sign in.
    const dormant = await createUser('dormant', 'admin');
    expect((await patch(dormant.id, { disabled: true })).status).toBe(200);
    expect((await remove(rootId)).status).toBe(409);
    expect(await list()).toEqual(expect.arrayContaining([adminUser, member]));
    expect(await enabledAdmins()).toBe(1);
    // Other changes to the last admin are fine, and so is removing them once there is another.
    expect((await patch(rootId, { email: 'root@example.com' })).status).toBe(200);
    expect((await patch(dormant.id, { disabled: false })).status).toBe(200);
    expect((await patch(rootId, { role: 'member' })).status).toBe(200);
    expect(await enabledAdmins()).toBe(1);
    // Root is a member now, and the guard reads the role afresh: the admin routes are closed.
    record(await admin.get('/api/users').expect(403));
    // Now dormant is the last admin, and cannot remove itself either.
    const last = await signIn(keel, 'dormant', PASSWORD);
    const refused = record(await last.delete(`/api/users/${dormant.id}`));
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ statusCode: 409, code: 'last_admin' });
    expect(await enabledAdmins()).toBe(1);
  });

  it('an admin cannot lock everyone out by deleting or demoting themselves as the last admin', async () => {
    const member = await createUser('member');
    for (const attempt of [
      () => remove(admin.userId),
      () => patch(admin.userId, { role: 'member' }),
      () => patch(admin.userId, { disabled: true }),
    ]) {
      const response = await attempt();
      expect(response.status).toBe(409);
      expect(response.body).toMatchObject({ statusCode: 409, code: 'last_admin' });
    }
    // Still there, unchanged, still signed in, and nobody was signed out.
    expect(await list()).toEqual([adminUser, member]);
    expect(await enabledAdmins()).toBe(1);
    expect(revoker.calls).toEqual([]);
    const me = record(await admin.get('/api/auth/me').expect(200));
    expect(me.body.user).toMatchObject({ id: admin.userId, role: 'admin' });
  });

  it('concurrent demotions and deletions of the only two admins leave one admin', async () => {
    // The invariant lives in UsersService (one transaction with the admins locked), so the race
    // is run there: through the API the callers would be admins too, and their own guard checks
    // would decide some of the requests before the service sees them.
    const users = keel.app.get(UsersService);
    const db = keel.app.get(DatabaseService).db;
    try {
      for (let round = 0; round < 5; round++) {
        await db.deleteFrom('users').where('id', '!=', admin.userId).execute();
        const a = await users.create({
          username: `admin-a-${round}`,
          password: PASSWORD,
          role: 'admin',
        });
        const b = await users.create({
          username: `admin-b-${round}`,
          password: PASSWORD,
          role: 'admin',
        });
        // The acting admin steps aside, so that a and b are the only two enabled admins.
        await users.update(admin.userId, { role: 'member' });
        expect(await enabledAdmins()).toBe(2);
        const outcomes = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => {
            const target = i % 2 ? a : b;
            switch (i % 4) {
              case 0:
              case 1:
                return users.update(target.id, { role: 'member' });
              case 2:
                return users.update(target.id, { disabled: true });
              default:
                return users.delete(target.id);
            }
          }),
        );
        const statuses = outcomes.map((outcome) => {
          if (outcome.status === 'fulfilled') return 200;
          expect(outcome.reason).toBeInstanceOf(ApiError);
          return (outcome.reason as ApiError).getStatus();
        });
        expect(statuses.every((s) => [200, 404, 409].includes(s))).toBe(true);
        expect(statuses).toContain(409);
        expect(await enabledAdmins()).toBe(1);
        await users.update(admin.userId, { role: 'admin' });
      }
    } finally {
      await users.update(admin.userId, { role: 'admin', disabled: false });
    }
    record(await admin.get('/api/users').expect(200));
  });

  it('ends the sessions of a user who is deleted, demoted, disabled or given a new password', async () => {
    // The acting admin is the one who keeps the admin role throughout.
    const demoted = await createUser('demoted', 'admin');
    const disabled = await createUser('disabled');
    const deleted = await createUser('deleted');
    const untouched = await createUser('untouched');

    expect((await patch(demoted.id, { role: 'member' })).status).toBe(200);
    expect((await patch(disabled.id, { disabled: true })).status).toBe(200);
    expect((await remove(deleted.id)).status).toBe(204);
    expect(revoker.revokedIds()).toEqual([demoted.id, disabled.id, deleted.id]);

    // Changes that take nothing away sign nobody out.
    revoker.calls.length = 0;
    expect((await patch(untouched.id, { email: 'u@example.com', role: 'member' })).status).toBe(
      200,
    );
    expect((await patch(untouched.id, { role: 'admin' })).status).toBe(200);
    expect((await patch(disabled.id, { disabled: false })).status).toBe(200);
    expect(revoker.calls).toEqual([]);
    // A refused change signs nobody out either: with untouched demoted again, the acting admin
    // is the last one.
    await patch(untouched.id, { role: 'member' });
    revoker.calls.length = 0;
    expect((await remove(admin.userId)).status).toBe(409);
    expect(revoker.calls).toEqual([]);
  });

  it('a session store that cannot be reached: 503, and the change stays saved', async () => {
    // The acting admin keeps the admin role, so the target can be disabled.
    const target = await createUser('target', 'admin');
    revoker.failure = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const response = await patch(target.id, { disabled: true });
    expect(response.status).toBe(503);
    expect(response.body.code).toBe('session_store_unavailable');
    // As every other 503 session_store_unavailable: the client is told when to retry.
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body.message).not.toContain('ECONNREFUSED');
    expect((await list()).find((user) => user.id === target.id)?.disabled).toBe(true);
    // Retrying the same request once the store is back signs the user out.
    revoker.failure = undefined;
    expect((await patch(target.id, { disabled: true })).status).toBe(200);
    expect(revoker.revokedIds()).toEqual([target.id, target.id]);
  });
});
