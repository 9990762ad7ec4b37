import type { SessionData } from 'express-session';
import type {
  KeelSessionStore,
  SessionCookieAttributes,
} from '../../../src/session-cache/session-store.js';

/** The attributes of the cookie of the stores under test: Keel's, over plain HTTP. */
export const COOKIE_ATTRIBUTES: SessionCookieAttributes = {
  httpOnly: true,
  path: '/',
  sameSite: 'lax',
  secure: false,
};

/** A session as express-session hands it to a store: a cookie plus whatever the app put in. */
export function sessionWith(fields: Record<string, unknown> = {}): SessionData {
  return {
    cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/', sameSite: 'lax' },
    ...fields,
  } as unknown as SessionData;
}

/** The store's callback API as promises, to keep the tests readable. */
export function storeCalls(store: KeelSessionStore) {
  const call = <T>(run: (callback: (error: unknown, value?: T) => void) => void) =>
    new Promise<T | undefined>((resolve, reject) =>
      run((error, value) => (error ? reject(error as Error) : resolve(value))),
    );
  return {
    get: (sid: string) => call<SessionData | null>((cb) => store.get(sid, cb)),
    set: (sid: string, sess: SessionData) => call<void>((cb) => store.set(sid, sess, cb)),
    touch: (sid: string, sess: SessionData) => call<void>((cb) => store.touch(sid, sess, cb)),
    destroy: (sid: string) => call<void>((cb) => store.destroy(sid, cb)),
    all: () => call<SessionData[] | Record<string, SessionData> | null>((cb) => store.all(cb)),
    length: () => call<number>((cb) => store.length(cb)),
    clear: () => call<void>((cb) => store.clear(cb)),
  };
}
