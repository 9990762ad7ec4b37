import { Injectable, Logger } from '@nestjs/common';

/** At most one line per this long, however many sessions are evicted. */
const LOG_EVERY_MS = 60_000;

/**
 * Counts sessions the `memory` backend evicted to make room (its cap reached) and says so in
 * the log at most once a minute. Only signed-in sessions are ever stored, so an eviction means
 * a real user was signed out: the backend is too small for this install.
 */
@Injectable()
export class MemoryEvictions {
  private readonly logger = new Logger('SessionCache');
  private evicted = 0;
  private sinceLastLine = 0;
  private lastLineAt = 0;

  /** Sessions evicted since the process started (`keel_session_cache_evictions_total`). */
  get total(): number {
    return this.evicted;
  }

  record(maxEntries: number): void {
    this.evicted += 1;
    this.sinceLastLine += 1;
    const now = Date.now();
    if (now - this.lastLineAt < LOG_EVERY_MS) return;
    this.logger.warn({
      msg: `The memory session backend is full (${maxEntries} sessions): evicted ${this.sinceLastLine} least recently used signed-in sessions since the last such line. Those users must sign in again; use the redis or database backend for more sessions`,
      sessionCache: { evicted: this.sinceLastLine, evictedTotal: this.evicted, maxEntries },
    });
    this.lastLineAt = now;
    this.sinceLastLine = 0;
  }
}
