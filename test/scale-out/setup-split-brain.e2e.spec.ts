import type { BuiltAppProcess } from '../support/built-app-process.js';
import {
  createPostgresDatabase,
  POSTGRES_URL,
  type TemporaryDatabase,
} from '../support/services.js';
import { TEST_PASSWORD } from '../support/signed-in.js';
import { replicaEnvironment, startReplicas, stopReplicas, waitUntil } from './replica-cluster.js';

// First-run setup on two live replicas: choosing the process-local memory backend is refused
// like any settings change to it (409 backend_not_shared), and nothing is written.
(POSTGRES_URL ? describe : describe.skip)('setup with two live replicas', () => {
  let database: TemporaryDatabase;
  let replicas: BuiltAppProcess[] = [];
  const token = 'split-brain-setup-token-0123456789';

  beforeAll(async () => {
    database = await createPostgresDatabase();
    const env = replicaEnvironment({ databaseUrl: database.url });
    delete env.KEEL_ADMIN_USERNAME;
    delete env.KEEL_ADMIN_PASSWORD;
    env.SETUP_TOKEN = token;
    replicas = await startReplicas(2, env);
  });
  afterAll(async () => {
    await stopReplicas(replicas);
    await database?.drop();
  });

  const setup = (backend: string) =>
    fetch(`${replicas[0]!.url}/api/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token,
        admin: { username: 'admin', password: TEST_PASSWORD },
        settings: { sessionCache: { backend } },
      }),
    });

  it('refuses memory with 409 backend_not_shared, then accepts database', async () => {
    // Each sees the other: the younger is not ready, the older keeps serving.
    await waitUntil('the younger replica sees the older', async () => {
      const answers = await Promise.all(replicas.map((r) => fetch(`${r.url}/health/ready`)));
      return (
        answers
          .map((answer) => answer.status)
          .sort()
          .join() === '200,503'
      );
    });
    const refused = await setup('memory');
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: 'backend_not_shared' });
    const state = await fetch(`${replicas[1]!.url}/api/setup`);
    expect(await state.json()).toEqual({ required: true });

    const accepted = await setup('database');
    expect(accepted.status).toBe(201);
  });
});
