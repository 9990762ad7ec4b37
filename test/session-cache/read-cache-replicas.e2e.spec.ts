import pg from 'pg';
import { setTimeout as delay } from 'node:timers/promises';
import { type BuiltAppProcess, startBuiltApp } from '../support/built-app-process.js';
import { type CookieSession, login, logout, me, sidOf } from '../support/http-client.js';
import { valueOf } from '../support/prometheus-text.js';
import {
  createPostgresDatabase,
  POSTGRES_URL,
  type TemporaryDatabase,
} from '../support/services.js';
import { TEST_PASSWORD } from '../support/signed-in.js';
import { proxyInFrontOf, type TcpProxy } from '../support/tcp-proxy.js';
import {
  replicaEnvironment,
  replicaMetrics,
  stopReplicas,
  waitUntil,
} from '../scale-out/replica-cluster.js';

// The database backend's read cache across two replicas on PostgreSQL, as built processes:
// a session is read from memory, and however it ends on one replica (logout, a password
// change, a row deleted by hand) the other stops accepting it within a second; when a replica
// cannot hear the changes (its link to PostgreSQL stalls) it stops answering from memory
// rather than serve an ended session.

const BOUND_MS = 1000;

async function cacheHits(replica: BuiltAppProcess): Promise<number> {
  return valueOf(await replicaMetrics(replica.url), 'keel_session_read_cache_reads_total', {
    result: 'hit',
  });
}

async function serving(replica: BuiltAppProcess): Promise<boolean> {
  return valueOf(await replicaMetrics(replica.url), 'keel_session_read_cache_serving') === 1;
}

interface Probe {
  /** Milliseconds after the session ended that the request was sent. */
  sentAfterMs: number;
  /** 0: no answer within the probe's timeout. */
  status: number;
}

/**
 * Asks `replica` for `session`'s user every few ms from now until `endedAt() + BOUND_MS + 500`
 * (`endedAt` is 0 until the session has ended). Resolves to every answer after the end.
 */
async function probeAcrossTheEnd(
  replica: BuiltAppProcess,
  session: CookieSession,
  endedAt: () => number,
): Promise<Probe[]> {
  const probes: Probe[] = [];
  for (;;) {
    const sentAt = Date.now();
    const ended = endedAt();
    if (ended && sentAt > ended + BOUND_MS + 500) return probes;
    const status = await fetch(`${replica.url}/api/auth/me`, {
      headers: { cookie: session.cookie },
      signal: AbortSignal.timeout(300),
    }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
    if (ended) probes.push({ sentAfterMs: sentAt - ended, status });
    await delay(10);
  }
}

/** No request sent a second or more after the end was answered as signed in. */
function expectEndedWithinBound(
  probes: Probe[],
  label: string,
  { allowed = [401] }: { allowed?: number[] } = {},
): void {
  const late = probes.filter((probe) => probe.sentAfterMs >= BOUND_MS);
  expect(late.length).toBeGreaterThan(0);
  expect(late.filter((probe) => probe.status === 200)).toEqual([]);
  // A replica that hears the change answers 401, not a hang or a 503.
  expect(late.filter((probe) => !allowed.includes(probe.status))).toEqual([]);
  const lastAccepted = Math.max(
    -1,
    ...probes.filter((probe) => probe.status === 200).map((probe) => probe.sentAfterMs),
  );
  process.stdout.write(
    `read cache: ${label}: last request accepted ${lastAccepted} ms after the end (bound ${BOUND_MS} ms), ${probes.length} probes\n`,
  );
}

(POSTGRES_URL ? describe : describe.skip)('session read cache across replicas', () => {
  let database: TemporaryDatabase;
  let proxy: TcpProxy;
  let a: BuiltAppProcess;
  let b: BuiltAppProcess;

  beforeAll(async () => {
    database = await createPostgresDatabase();
    const env = replicaEnvironment({ databaseUrl: database.url, sessionBackend: 'database' });
    // Replica b reaches PostgreSQL through a proxy the test can stall.
    let proxiedUrl: string;
    ({ proxy, url: proxiedUrl } = await proxyInFrontOf(database.url, 5432));
    a = await startBuiltApp(env);
    b = await startBuiltApp({ ...env, DATABASE_URL: proxiedUrl });
    await waitUntil(
      'both read caches serving',
      async () => (await serving(a)) && (await serving(b)),
      10_000,
    );
  }, 60_000);

  afterAll(async () => {
    proxy?.thaw();
    await stopReplicas([a, b].filter(Boolean));
    await proxy?.cut();
    await database?.drop();
  });

  it('answers a session from memory on every replica, and a logout ends it at once where it happened and within a second on the other', async () => {
    const session = await login(a.url, 'admin', TEST_PASSWORD);
    await expect(me(b.url, session)).resolves.toMatchObject({ status: 200 });
    const hitsBefore = await cacheHits(b);
    for (let i = 0; i < 5; i++)
      await expect(me(b.url, session)).resolves.toMatchObject({ status: 200 });
    // Some, not necessarily all five: under load a lease can lapse for a moment, and then a
    // read goes to the database, as it must.
    expect((await cacheHits(b)) - hitsBefore).toBeGreaterThan(0);
    await expect(me(a.url, session)).resolves.toMatchObject({ status: 200 });

    let endedAt = 0;
    const probing = probeAcrossTheEnd(b, session, () => endedAt);
    await delay(100);
    expect(await logout(a.url, session)).toBe(204);
    endedAt = Date.now();
    await expect(me(a.url, session)).resolves.toMatchObject({ status: 401 });
    expectEndedWithinBound(await probing, 'logout on the other replica');
  });

  it('ends every other session of a user on both replicas when the password changes', async () => {
    const kept = await login(a.url, 'admin', TEST_PASSWORD);
    const other = await login(b.url, 'admin', TEST_PASSWORD);
    for (const replica of [a, b]) {
      await expect(me(replica.url, other)).resolves.toMatchObject({ status: 200 });
    }
    let endedAt = 0;
    const probing = probeAcrossTheEnd(b, other, () => endedAt);
    await delay(100);
    // Changed and changed back, so the other tests still sign in with TEST_PASSWORD.
    for (const [currentPassword, newPassword] of [
      [TEST_PASSWORD, `${TEST_PASSWORD} 2`],
      [`${TEST_PASSWORD} 2`, TEST_PASSWORD],
    ]) {
      const response = await fetch(`${a.url}/api/auth/password`, {
        method: 'POST',
        headers: {
          cookie: kept.cookie,
          'x-csrf-token': kept.csrfToken,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ currentPassword, newPassword }),
      });
      expect(response.status).toBe(204);
      if (!endedAt) endedAt = Date.now();
    }
    await expect(me(a.url, other)).resolves.toMatchObject({ status: 401 });
    expectEndedWithinBound(await probing, 'password change on the other replica');
    await expect(me(b.url, kept)).resolves.toMatchObject({ status: 200 });
  });

  it('ends a session whose row an operator deleted by hand, on every replica, within a second', async () => {
    const session = await login(a.url, 'admin', TEST_PASSWORD);
    for (const replica of [a, b]) {
      await expect(me(replica.url, session)).resolves.toMatchObject({ status: 200 });
      await expect(me(replica.url, session)).resolves.toMatchObject({ status: 200 });
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      let endedAt = 0;
      const probingA = probeAcrossTheEnd(a, session, () => endedAt);
      const probingB = probeAcrossTheEnd(b, session, () => endedAt);
      await delay(100);
      const { rowCount } = await client.query('delete from sessions where sid = $1', [
        sidOf(session),
      ]);
      expect(rowCount).toBe(1);
      endedAt = Date.now();
      expectEndedWithinBound(await probingA, 'row deleted by hand (replica a)');
      expectEndedWithinBound(await probingB, 'row deleted by hand (replica b)');
    } finally {
      await client.end();
    }
  });

  it('stops answering from memory when its link to PostgreSQL stalls: a session ended meanwhile is never accepted after a second, and caching resumes once the link does', async () => {
    const session = await login(a.url, 'admin', TEST_PASSWORD);
    for (let i = 0; i < 3; i++)
      await expect(me(b.url, session)).resolves.toMatchObject({ status: 200 });

    proxy.freeze();
    let endedAt = 0;
    const probing = probeAcrossTheEnd(b, session, () => endedAt);
    try {
      // Ended on a, whose link is fine; b cannot hear it while its link is stalled.
      expect(await logout(a.url, session)).toBe(204);
      endedAt = Date.now();
      const probes = await probing;
      expectEndedWithinBound(probes, 'logout while the replica is cut off', {
        // Its link is stalled: requests that need the database wait or fail, none is accepted.
        allowed: [401, 503, 0],
      });
      expect(await serving(b)).toBe(false);
    } finally {
      proxy.thaw();
    }

    await waitUntil('b serving from memory again', () => serving(b), 15_000);
    await expect(me(b.url, session)).resolves.toMatchObject({ status: 401 });
    const fresh = await login(b.url, 'admin', TEST_PASSWORD);
    await expect(me(b.url, fresh)).resolves.toMatchObject({ status: 200 });
    const hitsBefore = await cacheHits(b);
    await waitUntil(
      'b answering from memory again',
      async () => {
        expect((await me(b.url, fresh)).status).toBe(200);
        return (await cacheHits(b)) > hitsBefore;
      },
      5000,
    );
  });
});
