import type { ErrorCode } from './error-codes.js';

/**
 * A dependency Keel needs for this request (the database, the session store) cannot be reached
 * right now. Not a bug in the request: the client gets a 503 with this error's code, a message
 * that says to retry, and `Retry-After`; the cause goes to the log only. The features' own
 * errors extend it, so the HTTP edge answers them without knowing the features.
 */
export abstract class DependencyUnavailableError extends Error {
  /** The answer's `code`, e.g. `database_unavailable`. */
  abstract readonly code: ErrorCode;
  /** What the client reads; the error's own message (the cause) is for the log. */
  abstract readonly publicMessage: string;
  /** Seconds the client should wait before retrying (`Retry-After`). */
  abstract readonly retryAfterSeconds: number;
}
