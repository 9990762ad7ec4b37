import { Injectable, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { SessionBackendKind } from '../session-cache/session-backend.js';
import { MemoryEvictions } from '../session-cache/memory-evictions.js';
import { SessionReadCache } from '../session-cache/read-cache/session-read-cache.js';
import {
  OnSessionCacheEvent,
  SessionCacheEvent,
  type SessionCacheEventMap,
} from '../session-cache/session-cache.events.js';
import { SessionCacheService } from '../session-cache/session-cache.service.js';
import { InstrumentedSessionBackend } from './instrumented-session-backend.js';
import { MetricsRegistry } from './metrics-registry.js';

const BACKENDS: readonly SessionBackendKind[] = ['memory', 'database', 'redis'];
const SWAP_OUTCOMES = ['success', 'failure'] as const;

/**
 * The session cache's metrics. State (active backend, shared, swap running) is read from
 * `SessionCacheService.status()` at scrape time; calls are counted by a decorator the cache
 * puts around its active backend; swaps are counted from the `session-cache.swapped` event.
 */
@Injectable()
export class SessionCacheMetrics implements OnModuleInit {
  private readonly operations: Counter<'backend' | 'operation'>;
  private readonly errors: Counter<'backend' | 'operation'>;
  private readonly swaps: Counter<'outcome'>;
  private readonly swapDuration: Histogram;
  private readonly migrated: Counter;

  constructor(
    metrics: MetricsRegistry,
    private readonly cache: SessionCacheService,
    evictions: MemoryEvictions,
    readCache: SessionReadCache,
  ) {
    const registers = [metrics.registry];
    new Gauge({
      name: 'keel_session_cache_backend',
      help: 'The active session-cache backend: 1 for the active one, 0 for the others.',
      labelNames: ['backend'],
      registers,
      collect() {
        const active = cache.status().backend;
        for (const backend of BACKENDS) this.set({ backend }, backend === active ? 1 : 0);
      },
    });
    new Gauge({
      name: 'keel_session_cache_shared',
      help: '1 when the active backend is shared by every replica (database, redis); 0 for memory, whose sessions exist on this replica only.',
      registers,
      collect() {
        this.set(cache.status().shared ? 1 : 0);
      },
    });
    new Gauge({
      name: 'keel_session_cache_backend_diverged',
      help: '1 while this replica serves another session backend than the settings name, outside a swap (it could not follow a change and keeps trying; it fails readiness).',
      registers,
      collect() {
        const { backend, desired, swapping } = cache.status();
        this.set(backend !== desired && !swapping ? 1 : 0);
      },
    });
    new Gauge({
      name: 'keel_session_cache_swap_in_progress',
      help: '1 while a swap copies sessions to a new backend.',
      registers,
      collect() {
        this.set(cache.status().swapping ? 1 : 0);
      },
    });
    new Counter({
      name: 'keel_session_cache_evictions_total',
      help: 'Signed-in sessions the memory backend evicted because it was full (least recently used first): each one a user signed out.',
      registers,
      collect() {
        this.reset();
        this.inc(evictions.total);
      },
    });
    new Counter({
      name: 'keel_session_read_cache_reads_total',
      help: "Session reads of the database backend, by result: hit (answered from this process's read cache) or miss (read from the database).",
      labelNames: ['result'],
      registers,
      collect() {
        const { hits, misses } = readCache.stats();
        this.reset();
        this.inc({ result: 'hit' }, hits);
        this.inc({ result: 'miss' }, misses);
      },
    });
    new Gauge({
      name: 'keel_session_read_cache_serving',
      help: '1 while the read cache may answer reads (on PostgreSQL: this replica hears every session change, proven by an echo within the lease); 0 sends every read to the database.',
      registers,
      collect() {
        this.set(readCache.serving() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'keel_session_read_cache_entries',
      help: "Sessions held in this process's read cache.",
      registers,
      collect() {
        this.set(readCache.size);
      },
    });
    this.operations = new Counter({
      name: 'keel_session_cache_operations_total',
      help: 'Calls to the session-cache backend, by backend and operation.',
      labelNames: ['backend', 'operation'],
      registers,
    });
    this.errors = new Counter({
      name: 'keel_session_cache_errors_total',
      help: 'Calls to the session-cache backend that failed, by backend and operation.',
      labelNames: ['backend', 'operation'],
      registers,
    });
    this.swaps = new Counter({
      name: 'keel_session_cache_swaps_total',
      help: 'Session-cache swaps this replica ran, by outcome (success, failure).',
      labelNames: ['outcome'],
      registers,
    });
    // Present at 0 from the start, so `increase(...{outcome="failure"}[10m]) > 0` can fire on the first failure.
    for (const outcome of SWAP_OUTCOMES) this.swaps.inc({ outcome }, 0);
    this.swapDuration = new Histogram({
      name: 'keel_session_cache_swap_duration_seconds',
      help: 'How long session-cache swaps took, failed ones included.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.migrated = new Counter({
      name: 'keel_session_cache_sessions_migrated_total',
      help: 'Sessions copied to the new backend by successful swaps.',
      registers,
    });
  }

  onModuleInit(): void {
    const counters = { operations: this.operations, errors: this.errors };
    this.cache.decorateBackend((backend) => new InstrumentedSessionBackend(backend, counters));
  }

  @OnSessionCacheEvent(SessionCacheEvent.Swapped)
  onSwapped(swap: SessionCacheEventMap[typeof SessionCacheEvent.Swapped]): void {
    const failed = swap.error !== undefined;
    this.swaps.inc({ outcome: failed ? 'failure' : 'success' });
    this.swapDuration.observe(swap.durationMs / 1000);
    if (!failed) this.migrated.inc(swap.migrated);
  }
}
