import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 random bits: far past guessing, even without the rate limit. */
const SETUP_TOKEN_BYTES = 32;
const SHA256_BYTES = 32;

export function newSetupToken(): string {
  return randomBytes(SETUP_TOKEN_BYTES).toString('base64url');
}

/**
 * What the database keeps of a setup token. A plain SHA-256 is enough (unlike passwords): a
 * generated token has 256 random bits and SETUP_TOKEN at least 24 characters, so there is no
 * dictionary to try a stolen hash against, and a slow hash would only slow down setup.
 */
export function hashSetupToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** Compares two token hashes in constant time; false for anything malformed. */
export function setupTokenHashesMatch(stored: string | null, given: string): boolean {
  if (stored === null) return false;
  const a = Buffer.from(stored, 'base64url');
  const b = Buffer.from(given, 'base64url');
  return a.length === SHA256_BYTES && b.length === SHA256_BYTES && timingSafeEqual(a, b);
}
