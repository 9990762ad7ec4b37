import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const CSRF_HEADER = 'x-csrf-token';

/** A session's CSRF token (synchronizer token), bound to it at sign-in. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

export function csrfTokenMatches(expected: string | undefined, given: unknown): boolean {
  if (typeof expected !== 'string' || typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * CSRF tokens for clients with no session (OWASP's signed double-submit cookie): a random
 * nonce and its HMAC under a key derived from the session secrets, `<nonce>.<mac>`. The server
 * stores nothing; the token travels in a cookie and, on sign-in, in `X-CSRF-Token` as well, and
 * the two must match and verify. What stops a cross-site page is that it can neither read
 * the token nor set the header; the signature only means that no value but one this server
 * issued is taken (it binds the token to nothing: anyone can ask for one). The first key signs,
 * every key verifies (secret rotation).
 */
export class AnonymousCsrfTokens {
  constructor(private readonly keys: readonly Buffer[]) {}

  issue(): string {
    const nonce = randomBytes(24).toString('base64url');
    return `${nonce}.${this.mac(this.keys[0], nonce)}`;
  }

  /** Whether `token` is one this server (with any of its current secrets) issued. */
  verify(token: unknown): token is string {
    if (typeof token !== 'string') return false;
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return false;
    const nonce = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1));
    return this.keys.some((key) => {
      const expected = Buffer.from(this.mac(key, nonce));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }

  private mac(key: Buffer, nonce: string): string {
    return createHmac('sha256', key).update(`anonymous-csrf:${nonce}`).digest('base64url');
  }
}
