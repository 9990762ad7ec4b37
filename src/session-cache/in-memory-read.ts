/**
 * Waits for the event loop's check phase before a session read that process memory answers
 * (the memory backend; a hit in the database backend's read cache). Reads that need I/O (Redis,
 * a database miss) answer on a later turn of the loop anyway, and are not made to wait.
 *
 * Without the wait, such a request is answered inside the callback that read it off its socket:
 * one socket read, one answer written, then the next readable socket. With it, a loaded server
 * reads every socket that is ready before it answers any, and writes the answers back to back:
 * `GET /api/auth/me` on the memory backend went from 1.00x to 1.16x of the feature-equivalent
 * stack in bench/me.js (docs/performance.md, "Evening (2026-12-01)"). express-session's own
 * MemoryStore also answers on the check phase.
 *
 * The lookup comes after the wait, never before, so the wait never makes a read staler: an end
 * or a change this process makes meanwhile is what the request sees.
 */
export function beforeInMemoryRead(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
