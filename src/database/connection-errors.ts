/**
 * Telling "the database cannot be reached" from "this query is wrong": the first is a 503 the
 * caller may retry, the second a bug.
 */

/** Network errors from the driver (node's socket codes). */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * PostgreSQL SQLSTATEs for a server that is there but will not serve: too many connections,
 * shutting down, starting up. Class 08 (connection exceptions) is matched by prefix.
 */
const POSTGRES_UNAVAILABLE_STATES = new Set(['53300', '57P01', '57P02', '57P03']);

/** SQLite cannot open the file, or it stayed locked past busy_timeout, or the disk failed. */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR)/;

/** Messages pg and Kysely use for a lost or refused connection, which carry no code. */
const UNREACHABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
  'driver has already been destroyed',
];

/**
 * Whether `error` means the database cannot be reached, rather than a bad query. Checked by
 * shape, not `instanceof Error`: socket errors can come from another realm (Node's internals
 * under a VM-based test runner).
 */
export function isDatabaseUnreachable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 3) return false;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string') {
    if (NETWORK_ERROR_CODES.has(code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(code) || POSTGRES_UNAVAILABLE_STATES.has(code)) return true;
    if (SQLITE_UNAVAILABLE.test(code)) return true;
  }
  if (typeof message === 'string' && UNREACHABLE_MESSAGES.some((m) => message.includes(m))) {
    return true;
  }
  // Node reports a refused connection to every address of a host as an AggregateError.
  const nested = Array.isArray(errors) ? (errors as unknown[]) : [];
  return [cause, ...nested].some((inner) => isDatabaseUnreachable(inner, depth + 1));
}
