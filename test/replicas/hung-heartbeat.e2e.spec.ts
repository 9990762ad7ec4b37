import { REPLICA_TIMINGS } from '../../src/replicas/replica-timings.js';
import { InstanceRegistry } from '../../src/replicas/instance-registry.js';
import { SETTINGS_ANNOUNCER } from '../../src/scale-out/settings-announcer.js';
import { TaskSupervisor, type TaskStatus } from '../../src/tasks/task-supervisor.js';
import { waitUntil } from '../scale-out/replica-cluster.js';
import {
  createPostgresDatabase,
  POSTGRES_URL,
  type TemporaryDatabase,
} from '../support/services.js';
import { proxyInFrontOf, type TcpProxy } from '../support/tcp-proxy.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The link to PostgreSQL stalls without a reset: queries are sent and no answer comes. The
// heartbeat and the settings reconciliation must not hang with them: each run past its deadline
// is aborted and counted as a crash, the task backs off and tries again, and both are healthy
// again once the link is.

(POSTGRES_URL ? describe : describe.skip)('supervised runs on a stalled database link', () => {
  let database: TemporaryDatabase;
  let proxy: TcpProxy;
  let keel: TestApp;

  beforeAll(async () => {
    database = await createPostgresDatabase();
    let proxiedUrl: string;
    ({ proxy, url: proxiedUrl } = await proxyInFrontOf(database.url, 5432));
    keel = await startTestApp({
      databaseUrl: proxiedUrl,
      overrideProviders: [
        // Deadlines: the heartbeat's is its floor of 1 s, the reconciliation read's 2 s.
        { token: REPLICA_TIMINGS, value: { heartbeatIntervalMs: 200, reconcileIntervalMs: 300 } },
        { token: SETTINGS_ANNOUNCER, value: null },
      ],
    });
  });

  afterAll(async () => {
    proxy?.thaw();
    await keel?.close();
    await proxy?.cut();
    await database?.drop();
  });

  const task = (name: string): TaskStatus => {
    const found = keel.app
      .get(TaskSupervisor)
      .statuses()
      .find((status) => status.name === name);
    if (!found) throw new Error(`no task ${name}`);
    return found;
  };
  const lastBeat = () =>
    keel.app
      .get(InstanceRegistry)
      .lastSeenLive.map((instance) => Date.parse(instance.heartbeatAt))
      .reduce((latest, at) => Math.max(latest, at), 0);

  it('aborts the hung runs, backs off, and recovers once the link does', async () => {
    await waitUntil('first heartbeat', async () => lastBeat() > 0, 5000);
    expect(task('instance-heartbeat')).toMatchObject({ state: 'running', restarts: 0 });

    proxy.freeze();
    const frozenAt = Date.now();
    await waitUntil(
      'the hung heartbeat counted as a crash',
      async () => task('instance-heartbeat').lastError !== null,
      5000,
    );
    // Found out by its deadline (1 s), not left running forever.
    expect(Date.now() - frozenAt).toBeLessThan(3000);
    expect(task('instance-heartbeat').lastError?.message).toBe(
      'run passed its deadline of 1000 ms and was aborted',
    );
    await waitUntil(
      'the hung settings read counted as a crash',
      async () => task('settings-reconciliation').lastError !== null,
      6000,
    );
    expect(task('settings-reconciliation').lastError?.message).toMatch(/aborted due to timeout/);
    // Still stalled: each new try hangs too and is aborted in its turn.
    await waitUntil(
      'a second aborted heartbeat',
      async () => task('instance-heartbeat').restarts >= 2,
      8000,
    );

    proxy.thaw();
    const thawedAt = Date.now();
    // The hung beat lands with the thaw, then the one queued behind it (beats stay one at a
    // time: a late one must never overwrite a newer report).
    await waitUntil('a heartbeat after the thaw', async () => lastBeat() > thawedAt - 1000, 15_000);
    await waitUntil(
      'both tasks running again',
      async () =>
        task('instance-heartbeat').state === 'running' &&
        task('settings-reconciliation').state === 'running',
      15_000,
    );
  });
});
