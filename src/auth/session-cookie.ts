import type { Request } from 'express';

/** Over TLS (directly or through a trusted proxy) the cookie is Secure and `__Host-` prefixed. */
export const SECURE_COOKIE_NAME = '__Host-keel.sid';
export const PLAIN_COOKIE_NAME = 'keel.sid';

/** True when the request carries a Keel session cookie (valid or not). */
export function hasSessionCookie(req: Request): boolean {
  const header = req.headers.cookie;
  if (!header) return false;
  return header.split(';').some((pair) => {
    const name = pair.split('=', 1)[0].trim();
    return name === SECURE_COOKIE_NAME || name === PLAIN_COOKIE_NAME;
  });
}

export function cookieNameFor(req: Request): string {
  return req.secure ? SECURE_COOKIE_NAME : PLAIN_COOKIE_NAME;
}
