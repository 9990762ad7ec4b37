import type { Request, Response } from 'express';
import { isStoredSession, type SessionCookieAttributes } from '../session-cache/session-store.js';

/** Over TLS (directly or through a trusted proxy) the cookie is Secure and `__Host-` prefixed. */
export const SECURE_COOKIE_NAME = '__Host-keel.sid';
export const PLAIN_COOKIE_NAME = 'keel.sid';
/** The anonymous client's signed CSRF token (double-submit), named like the session cookie. */
export const SECURE_CSRF_COOKIE_NAME = '__Host-keel.csrf';
export const PLAIN_CSRF_COOKIE_NAME = 'keel.csrf';

export function cookieNameFor(req: Request): string {
  return req.secure ? SECURE_COOKIE_NAME : PLAIN_COOKIE_NAME;
}

export function csrfCookieNameFor(req: Request): string {
  return req.secure ? SECURE_CSRF_COOKIE_NAME : PLAIN_CSRF_COOKIE_NAME;
}

/** The value of cookie `name` in the request (the first one), or undefined. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=');
    if (equals < 0 || pair.slice(0, equals).trim() !== name) continue;
    const value = pair.slice(equals + 1).trim();
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}

/**
 * True when the request's session cookie names a live, signed-in session (loaded from the
 * store). A cookie that names nothing (expired, revoked, logged out elsewhere, forged) counts as
 * no cookie: it carries no authority, so it needs no CSRF token, and it is cleared.
 */
export function hasLiveSession(req: Request): boolean {
  return isStoredSession(req.session) && typeof req.session?.userId === 'string';
}

/** Attributes every Keel cookie has: HttpOnly, SameSite=Lax, Path=/, no Domain; Secure over TLS. */
export function cookieAttributes(secure: boolean): SessionCookieAttributes {
  return { httpOnly: true, sameSite: 'lax', path: '/', secure };
}

/** Tells the browser to drop cookie `name` (same attributes it was set with). */
export function clearCookie(req: Request, res: Response, name: string): void {
  res.clearCookie(name, cookieAttributes(req.secure));
}
