import { createHmac, randomBytes } from 'node:crypto';
import { SessionSecrets } from '../../../src/auth/session-secrets.js';
import { SessionCacheService } from '../../../src/session-cache/session-cache.service.js';
import type { CookieSession } from '../../support/http-client.js';
import type { TestApp } from '../../support/test-app.js';

const HOUR = 3_600_000;

/**
 * `count` signed-in sessions of `userId` put straight into the active backend, as sign-in
 * would store them, with the cookies that name them: thousands of sessions in a blink, for the
 * suites that move them between backends. They expire `idleMs` from now. A request touches
 * (writes) a session whose stored expiry is further than the touch throttle from where the idle
 * timeout would put it: with `idleMs` set to the app's idle timeout, requests made within the
 * throttle of seeding (min(60 s, idle / 10)) only read them.
 */
export async function seedSessions(
  keel: TestApp,
  userId: string,
  count: number,
  { idleMs = HOUR }: { idleMs?: number } = {},
): Promise<CookieSession[]> {
  const secret = keel.app.get(SessionSecrets).signing;
  const backend = keel.app.get(SessionCacheService).backend;
  const now = Date.now();
  const sessions: CookieSession[] = [];
  const puts: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const sid = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const data = {
      cookie: {
        originalMaxAge: 24 * HOUR,
        expires: new Date(now + 24 * HOUR),
        httpOnly: true,
        path: '/',
        sameSite: 'lax',
      },
      userId,
      csrfToken,
      createdAt: now,
      absoluteExpiresAt: now + 24 * HOUR,
    };
    puts.push(
      backend.put({
        sid,
        data: JSON.stringify(data),
        userId,
        expiresAt: now + idleMs,
        lastSeenAt: now,
      }),
    );
    // As express-session signs it (cookie-signature): the id, a dot, the unpadded base64 HMAC.
    const mac = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
    const cookie = `keel.sid=${encodeURIComponent(`s:${sid}.${mac}`)}`;
    sessions.push({ cookie, csrfToken, userId });
    if (puts.length >= 200) await Promise.all(puts.splice(0));
  }
  await Promise.all(puts);
  return sessions;
}

/** The statuses of `GET /api/auth/me` for every session, `concurrency` at a time. */
export async function meStatuses(
  url: string,
  sessions: CookieSession[],
  concurrency = 16,
): Promise<Record<number, number>> {
  let next = 0;
  return countMeStatuses(url, () => sessions[next++], concurrency);
}

/**
 * The statuses of `GET /api/auth/me`, `concurrency` at a time, round the sessions again and
 * again until `until` settles: requests in flight whatever happens meanwhile.
 */
export async function meStatusesUntil(
  url: string,
  sessions: CookieSession[],
  until: Promise<unknown>,
  concurrency = 16,
): Promise<Record<number, number>> {
  let settled = false;
  void until.finally(() => (settled = true)).catch(() => undefined);
  let next = 0;
  return countMeStatuses(
    url,
    () => (settled ? undefined : sessions[next++ % sessions.length]),
    concurrency,
  );
}

/** -1 counts a 200 that answered for another user than the session's. */
async function countMeStatuses(
  url: string,
  nextSession: () => CookieSession | undefined,
  concurrency: number,
): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  const worker = async () => {
    for (let session = nextSession(); session; session = nextSession()) {
      const response = await fetch(`${url}/api/auth/me`, { headers: { cookie: session.cookie } });
      const body = (await response.json()) as { user?: { id: string } };
      const status =
        response.status === 200 && body.user?.id !== session.userId ? -1 : response.status;
      counts[status] = (counts[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}
