import { EventEmitter2 } from '@nestjs/event-emitter';
import type { ReplicaTimings } from '../../src/replicas/replica-timings.js';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { ActiveSessionBackend } from '../../src/session-cache/active-session-backend.js';
import { MemorySessionBackend } from '../../src/session-cache/backends/memory-session.backend.js';
import type {
  SessionBackend,
  SessionBackendKind,
} from '../../src/session-cache/session-backend.js';
import type { SessionBackendFactory } from '../../src/session-cache/session-backend-factory.js';
import {
  SessionCacheEvent,
  SessionCacheEvents,
} from '../../src/session-cache/session-cache.events.js';
import { SessionHandover } from '../../src/session-cache/session-handover.js';
import { SessionSwap } from '../../src/session-cache/session-swap.js';
import type { SessionCacheSwap } from '../../src/runtime-state/runtime-state.service.js';
import { FakeInstanceRegistry } from './replicas.js';
import { FakeSharedBackend } from './sessions.js';
import { newTestSettingsService, type TestSettings } from './settings.js';

/** Short enough for a unit test: the handover waits for a late replica 4 beats at most. */
export const FAST_TIMINGS: ReplicaTimings = { heartbeatIntervalMs: 25, reconcileIntervalMs: 25 };

/**
 * Builds the backend a swap asks for: the one the test put under that kind, then (as the real
 * factory connects anew each time) another handle on the same store, with the same faults.
 */
export class FakeBackendFactory implements Pick<SessionBackendFactory, 'build' | 'check'> {
  readonly built: SessionBackendKind[] = [];

  constructor(private readonly backends: Partial<Record<SessionBackendKind, SessionBackend>>) {}

  async build(kind: SessionBackendKind): Promise<SessionBackend> {
    const backend = this.backends[kind];
    if (!backend) throw new Error(`no ${kind} backend in this test`);
    const first = !this.built.includes(kind);
    this.built.push(kind);
    return first || !(backend instanceof FakeSharedBackend) ? backend : backend.sibling();
  }

  async check(kind: SessionBackendKind): Promise<void> {
    await (await this.build(kind)).ping();
  }
}

export interface TestSessionCache {
  active: ActiveSessionBackend;
  swaps: SessionSwap;
  handover: SessionHandover;
  registry: FakeInstanceRegistry;
  runtime: RuntimeStateService;
  settings: TestSettings;
  /** Every `session-cache.swapped` event, in order. */
  swapped: SessionCacheSwap[];
  /** As at shutdown: a handover still in progress stops waiting for other replicas. */
  close(): Promise<void>;
}

/**
 * The session cache's parts (active backend, swap, handover) wired as SessionCacheModule wires
 * them, on fakes: the settings on an in-memory repository, the registry and the backend factory
 * the test controls. `serving` is the backend in use at the start (default: memory).
 */
export async function newTestSessionCache({
  serving = new MemorySessionBackend(),
  backends = {},
  timings = FAST_TIMINGS,
}: {
  serving?: SessionBackend;
  backends?: Partial<Record<SessionBackendKind, SessionBackend>>;
  timings?: ReplicaTimings;
} = {}): Promise<TestSessionCache> {
  const settings = await newTestSettingsService();
  const runtime = settings.runtime;
  const registry = new FakeInstanceRegistry();
  const emitter = new EventEmitter2();
  const swapped: SessionCacheSwap[] = [];
  emitter.on(SessionCacheEvent.Swapped, (event: SessionCacheSwap) => swapped.push(event));
  const active = new ActiveSessionBackend(runtime, settings.settings);
  active.use(serving);
  const handover = new SessionHandover(registry.asRegistry(), runtime, timings);
  const swaps = new SessionSwap(
    active,
    new FakeBackendFactory(backends) as unknown as SessionBackendFactory,
    handover,
    new SessionCacheEvents(emitter),
    settings.settings,
  );
  return {
    active,
    swaps,
    handover,
    registry,
    runtime,
    settings,
    swapped,
    close: async () => {
      handover.beforeApplicationShutdown();
      await swaps.idle();
    },
  };
}
