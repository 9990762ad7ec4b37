import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import { randomBytes } from 'node:crypto';
import onHeaders from 'on-headers';
import type { SessionCacheService } from '../session-cache/session-cache.service.js';
import {
  clearCookie,
  cookieAttributes,
  hasLiveSession,
  PLAIN_COOKIE_NAME,
  readCookie,
  SECURE_COOKIE_NAME,
} from './session-cookie.js';
import type { SessionSecrets } from './session-secrets.js';

/** Machine paths that never need a session; they must answer even when the store is down. */
const SESSIONLESS_PATHS = /^\/(health|metrics)(\/|$|\?)/;

/**
 * express-session over the session cache's one store. Two cookie variants share that store:
 * requests over TLS get `__Host-keel.sid` (Secure), plain HTTP gets `keel.sid`; both HttpOnly,
 * SameSite=Lax, Path=/, no Domain. Session ids are 256 random bits; an id the store does not
 * know is never adopted (express-session starts a new session with a fresh id).
 *
 * A cookie that names no live session (expired, revoked, logged out elsewhere, a bad signature),
 * or whose session ended during the request, is cleared by the answer, unless the answer sets a
 * new session cookie (a sign-in).
 */
export function createSessionMiddleware(
  cache: SessionCacheService,
  secrets: SessionSecrets,
): RequestHandler {
  const options = (name: string, secure: boolean): session.SessionOptions => {
    const cookie = cookieAttributes(secure);
    return {
      name,
      store: cache.createStore(cookie),
      secret: [...secrets.secrets],
      resave: false,
      saveUninitialized: false,
      rolling: false,
      // Not 'destroy': when loading the session fails (store briefly unreachable) express-session
      // leaves req.session unset, and 'destroy' would then delete the user's session at the end
      // of that request. Logout destroys explicitly.
      unset: 'keep',
      genid: () => randomBytes(32).toString('base64url'),
      cookie,
    };
  };
  const overTls = session(options(SECURE_COOKIE_NAME, true));
  const plain = session(options(PLAIN_COOKIE_NAME, false));
  return (req: Request, res: Response, next: NextFunction) => {
    if (SESSIONLESS_PATHS.test(req.path)) return next();
    const name = req.secure ? SECURE_COOKIE_NAME : PLAIN_COOKIE_NAME;
    let loaded = false;
    if (readCookie(req, name) !== undefined) {
      // Registered before express-session's own hook, so it runs after it (on-headers runs
      // the last registered first) and sees whether that one set a new cookie.
      onHeaders(res, () => {
        if (loaded && !hasLiveSession(req) && !setsCookie(res, name)) clearCookie(req, res, name);
      });
    }
    // A store that could not be reached (503) says nothing about the cookie: it is kept.
    return (req.secure ? overTls : plain)(req, res, (error?: unknown) => {
      loaded = error === undefined;
      next(error);
    });
  };
}

function setsCookie(res: Response, name: string): boolean {
  const header = res.getHeader('Set-Cookie');
  const cookies = Array.isArray(header) ? header : header === undefined ? [] : [String(header)];
  return cookies.some((cookie) => cookie.startsWith(`${name}=`));
}
