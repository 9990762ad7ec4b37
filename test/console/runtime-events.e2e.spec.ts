import { GracefulShutdown } from '../../src/runtime-state/graceful-shutdown.js';
import { InstanceRegistry } from '../../src/replicas/instance-registry.js';
import { login, logout, me, type CookieSession } from '../support/http-client.js';
import { createUser, TEST_PASSWORD } from '../support/signed-in.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { call } from '../scale-out/replica-cluster.js';
import { EventStreamReader } from './event-stream.js';

// GET /api/runtime/events: admins only, and a stream that ends with its session (logout,
// revoke, the user disabled) and when the server drains, without holding the shutdown up.

const END_WITHIN_MS = 2500;

async function endReason(stream: EventStreamReader): Promise<string> {
  const end = await stream.next('end', END_WITHIN_MS);
  await stream.closed;
  return (JSON.parse(end.data) as { reason: string }).reason;
}

describe('the runtime event stream', () => {
  let keel: TestApp;
  let closed = false;
  const open: EventStreamReader[] = [];
  const stream = async (session?: CookieSession) => {
    const reader = await EventStreamReader.open(keel.url, session?.cookie);
    open.push(reader);
    return reader;
  };

  beforeAll(async () => {
    keel = await startTestApp({
      admin: true,
      env: { SHUTDOWN_DRAIN_MS: '0', SHUTDOWN_GRACE_MS: '10000' },
    });
    await createUser(keel, 'second-admin', 'admin');
    await createUser(keel, 'member', 'member');
  });
  afterAll(async () => {
    for (const reader of open) reader.cancel();
    if (!closed) await keel?.close();
  });

  it('answers 401 without a session and 403 to a member, as JSON errors', async () => {
    const anonymous = await fetch(`${keel.url}/api/runtime/events`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'unauthenticated' });
    const member = await login(keel.url, 'member', TEST_PASSWORD);
    const refused = await fetch(`${keel.url}/api/runtime/events`, {
      headers: { cookie: member.cookie },
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'forbidden' });
  });

  it('opens with the runtime report, which carries every replica’s tasks from the registry', async () => {
    const admin = await login(keel.url, 'admin', TEST_PASSWORD);
    const reader = await stream(admin);
    expect(reader.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const report = JSON.parse((await reader.next('runtime')).data) as {
      instanceId: string;
      instances: { instanceId: string; tasks: { name: string }[]; settingsVersion: number }[];
    };
    expect(report.instances.map((instance) => instance.instanceId)).toContain(report.instanceId);
    // The registry row itself carries them (what another replica reads).
    await keel.app.get(InstanceRegistry).beatNow();
    const [row] = await keel.app.get(InstanceRegistry).live();
    expect(row!.tasks.map((task) => task.name)).toEqual(
      expect.arrayContaining(['instance-heartbeat', 'session-sweeper']),
    );
    expect(row!.settingsVersion).toEqual(expect.any(Number));
    expect(row!.sessionCacheStatus).toMatchObject({
      backend: row!.sessionBackend,
      swapping: false,
    });
    reader.cancel();
  });

  it('ends when its session logs out', async () => {
    const admin = await login(keel.url, 'admin', TEST_PASSWORD);
    const reader = await stream(admin);
    await reader.next('runtime');
    expect(await logout(keel.url, admin)).toBe(204);
    expect(await endReason(reader)).toBe('session_ended');
    // The stream was a request of that session in flight: its end did not bring it back.
    expect((await me(keel.url, admin)).status).toBe(401);
  });

  it('ends when its session is revoked from another one', async () => {
    const watched = await login(keel.url, 'admin', TEST_PASSWORD);
    const other = await login(keel.url, 'admin', TEST_PASSWORD);
    const reader = await stream(watched);
    await reader.next('runtime');
    const sessions = (await (
      await fetch(`${keel.url}/api/auth/sessions`, { headers: { cookie: other.cookie } })
    ).json()) as { id: string; current: boolean }[];
    const sessionIds = sessions.filter((session) => !session.current).map((session) => session.id);
    for (const id of sessionIds) {
      expect((await call(keel.url, other, 'DELETE', `/api/auth/sessions/${id}`)).status).toBe(204);
    }
    expect(await endReason(reader)).toBe('session_ended');
    expect((await me(keel.url, watched)).status).toBe(401);
  });

  it('ends when its user is disabled', async () => {
    const second = await login(keel.url, 'second-admin', TEST_PASSWORD);
    const reader = await stream(second);
    await reader.next('runtime');
    // A fresh admin session: the revoke above ended the admin's others.
    const admin = await login(keel.url, 'admin', TEST_PASSWORD);
    const disabled = await call(keel.url, admin, 'PATCH', `/api/users/${second.userId}`, {
      body: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    expect(await endReason(reader)).toBe('session_ended');
  });

  it('ends when the server drains, and does not hold up the shutdown', async () => {
    const admin = await login(keel.url, 'admin', TEST_PASSWORD);
    const reader = await stream(admin);
    await reader.next('runtime');
    const started = Date.now();
    closed = true;
    const shutdown = keel.app.get(GracefulShutdown).drainAndClose(keel.app, 'test');
    expect(await endReason(reader)).toBe('draining');
    await shutdown;
    // The grace period is 10 s: a stream still open would have kept the server that long.
    expect(Date.now() - started).toBeLessThan(2000);
    await keel.close().catch(() => undefined);
  });
});
