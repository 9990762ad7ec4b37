/**
 * A minimal cookie session over fetch, for tests that drive hundreds of sessions concurrently
 * (supertest agents are too heavy for that). Holds one Keel session cookie and its CSRF token.
 */
export interface CookieSession {
  cookie: string;
  csrfToken: string;
  userId: string;
}

export async function login(
  baseUrl: string,
  username: string,
  password: string,
): Promise<CookieSession> {
  const response = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (response.status !== 200) {
    throw new Error(`login ${username}: ${response.status} ${await response.text()}`);
  }
  const body = (await response.json()) as { csrfToken: string; user: { id: string } };
  const setCookie = response.headers.getSetCookie().find((c) => /^(__Host-)?keel\.sid=/.test(c));
  if (!setCookie) throw new Error('login set no session cookie');
  return { cookie: setCookie.split(';')[0], csrfToken: body.csrfToken, userId: body.user.id };
}

export async function me(
  baseUrl: string,
  session: CookieSession,
): Promise<{ status: number; userId?: string }> {
  const response = await fetch(`${baseUrl}/api/auth/me`, { headers: { cookie: session.cookie } });
  const body = (await response.json()) as { user?: { id: string } };
  return { status: response.status, userId: body.user?.id };
}

export async function logout(baseUrl: string, session: CookieSession): Promise<number> {
  const response = await fetch(`${baseUrl}/api/auth/logout`, {
    method: 'POST',
    headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken },
  });
  await response.arrayBuffer();
  return response.status;
}

/** The session id inside a `keel.sid=s%3A<sid>.<signature>` cookie. */
export function sidOf(session: CookieSession): string {
  const value = decodeURIComponent(session.cookie.slice(session.cookie.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
}
