import { USER_SESSION_REVOKER } from '../../src/users/user-session-revoker.js';
import { createUser, signIn } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Revocation can fail (the session store is down at that moment). The guard re-reads the user,
 * and the users service forgets its cached copy on every change, so a disabled, demoted or
 * deleted user still loses access on their very next request.
 */
describe('access after a change whose revocation failed', () => {
  let keel: TestApp;
  const failingRevoker = {
    revokeAll: async () => {
      throw new Error('session store down');
    },
  };
  beforeAll(async () => {
    keel = await startTestApp({
      admin: true,
      overrideProviders: [{ token: USER_SESSION_REVOKER, value: failingRevoker }],
    });
  });
  afterAll(async () => {
    await keel.close();
  });

  it('a disabled user is refused at once', async () => {
    const id = await createUser(keel, 'mallory');
    const mallory = await signIn(keel, 'mallory');
    await mallory.get('/api/auth/me').expect(200);
    await keel.admin!.patch(`/api/users/${id}`, { disabled: true }).expect(503);
    await mallory.get('/api/auth/me').expect(401);
  });

  it('a demoted admin loses admin routes at once', async () => {
    const id = await createUser(keel, 'trudy', 'admin');
    const trudy = await signIn(keel, 'trudy');
    await trudy.get('/api/users').expect(200);
    await keel.admin!.patch(`/api/users/${id}`, { role: 'member' }).expect(503);
    await trudy.get('/api/users').expect(403);
  });

  it('a deleted user is refused at once', async () => {
    const id = await createUser(keel, 'oscar');
    const oscar = await signIn(keel, 'oscar');
    await oscar.get('/api/auth/me').expect(200);
    await keel.admin!.delete(`/api/users/${id}`).expect(503);
    await oscar.get('/api/auth/me').expect(401);
  });
});
