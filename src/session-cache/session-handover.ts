import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import {
  InstanceRegistry,
  type RegisteredInstance,
  type SessionCacheReport,
} from '../runtime-state/instance-registry.js';
import {
  handoverLimitMs,
  REPLICA_TIMINGS,
  type ReplicaTimings,
} from '../runtime-state/replica-timings.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import type { MigratingBackend } from './migrating-backend.js';
import type { SessionBackend, SessionBackendKind } from './session-backend.js';

/** How often a replica in a handover asks the registry where the others are. */
const HANDOVER_POLL_MS = 200;
/** Sessions reconciled at once. */
const RECONCILE_CONCURRENCY = 64;

/** Thrown by `complete` when the process shuts down mid-handover: keep writing both. */
export class HandoverAborted extends Error {
  override readonly name = 'HandoverAborted';
}

/**
 * The cross-replica part of a swap between shared backends (docs/architecture.md, "A swap
 * across replicas"), and the only part of the session cache that reads the instance registry.
 *
 * Each replica reports in the registry which backend it serves at which settings version, and
 * during a handover the old backend it still writes and whether it still reads it. A replica
 * moves through: the old backend alone (late: it has not heard of the change) -> the pair,
 * reading the old backend -> the pair, reading the new one -> the new one alone. It takes a
 * step only when no replica can be hurt by it:
 * 1. it reads the new backend only once no live replica writes the old one alone (every one
 *    serves the new version) and the new backend was reconciled with the old, authoritative
 *    one (so what a late replica wrote alone, even one that restarted and lost its journal, is
 *    there);
 * 2. it stops writing the old backend only once no live replica reads it.
 * A replica that starts while a handover is in progress joins it (`inProgressTo`) instead of
 * serving the new backend alone.
 */
@Injectable()
export class SessionHandover implements BeforeApplicationShutdown {
  private readonly logger = new Logger(SessionHandover.name);
  /** Aborted at shutdown: a handover in progress stops waiting for other replicas. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly registry: InstanceRegistry,
    private readonly runtime: RuntimeStateService,
    @Inject(REPLICA_TIMINGS) private readonly timings: ReplicaTimings,
  ) {}

  beforeApplicationShutdown(): void {
    this.stopping.abort();
  }

  /** Tells the registry (and so the other replicas) which backend this one serves, and how. */
  async report(report: SessionCacheReport, options?: { register?: boolean }): Promise<void> {
    await this.registry.reportSessionCache(report, options).catch((error: unknown) => {
      this.logger.warn(`Could not record the session backend in the registry: ${describe(error)}`);
    });
  }

  /** Live replicas besides this one; unknown (the registry can't be read) counts as some. */
  async othersLive(): Promise<number> {
    try {
      return (await this.others()).length;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /**
   * Whether another live replica serves `kind` now: then it holds live sessions, not stale
   * ones, and must not be emptied (only after a replica failed to follow an earlier swap).
   */
  async servedElsewhere(kind: SessionBackendKind): Promise<boolean> {
    if (kind === 'memory') return false;
    try {
      return (await this.others()).some((other) => other.sessionCache.backend === kind);
    } catch {
      return false;
    }
  }

  /**
   * At start-up, with the settings naming `desired` at `version`: the shared backend some live
   * replica still reads in a handover to `desired` (it has not switched yet, or it still reads
   * the old backend), which this replica must then join; undefined when none does.
   */
  async inProgressTo(
    desired: SessionBackendKind,
    version: number,
  ): Promise<SessionBackendKind | undefined> {
    let others: RegisteredInstance[];
    try {
      others = await this.others();
    } catch (error) {
      this.logger.warn(
        `Could not read the instance registry at start-up, so a session-cache handover in progress (if any) is not joined: ${describe(error)}`,
      );
      return undefined;
    }
    for (const { sessionCache: other } of others) {
      if (other.version < version && other.backend !== desired && other.backend !== 'memory') {
        return other.backend;
      }
      if (
        other.backend === desired &&
        other.readsPrevious &&
        other.previous !== null &&
        other.previous !== 'memory'
      ) {
        return other.previous;
      }
    }
    return undefined;
  }

  /**
   * Takes `pair` (this replica writing both backends, reading the old one) through the
   * handover of settings `version`; resolves once this replica may use the new backend alone.
   * Rejects with HandoverAborted at shutdown (the pair then stays in use until the end).
   */
  async complete(pair: MigratingBackend, version: number): Promise<void> {
    const { source, target } = pair;
    const limitMs = handoverLimitMs(this.timings);
    const late = await this.waitWhile(() => this.behind(version), limitMs);
    if (late.length > 0) {
      this.logger.warn(
        `Session cache handover to ${target.kind}: ${late.join(', ')} did not switch within ${limitMs} ms; they are left reading ${source.kind} alone until they switch`,
      );
    }
    await this.reconciled(pair, version, limitMs);
    pair.reads = 'target';
    await this.report({
      backend: target.kind,
      version,
      previous: source.kind,
      readsPrevious: false,
    });
    const readers = await this.waitWhile(() => this.readingPrevious(pair, version), limitMs);
    if (readers.length > 0) {
      this.logger.warn(
        `Session cache handover to ${target.kind}: ${readers.join(', ')} still read ${source.kind} after ${limitMs} ms; no longer writing it for them`,
      );
    }
  }

  /**
   * Before anyone reads the new backend alone, one replica (the oldest in the handover) makes
   * it agree with the old one: sessions the old one no longer has are destroyed, the others
   * copied where they differ. The rest wait until a replica reads the new backend (it did
   * that pass), or do it themselves if none does within the limit (the oldest died).
   */
  private async reconciled(pair: MigratingBackend, version: number, limitMs: number) {
    if (!pair.source.shared) return;
    const deadline = Date.now() + limitMs;
    for (;;) {
      this.throwIfStopping();
      const state = await this.reconciliationState(pair, version);
      if (state === 'done') return;
      if (state === 'mine' || Date.now() >= deadline) break;
      await this.pause();
    }
    const started = Date.now();
    const { checked, changed } = await reconcileAll(pair, () => this.throwIfStopping());
    this.logger.log({
      msg: `Session cache handover ${pair.source.kind} -> ${pair.target.kind}: reconciled ${checked} sessions (${changed} differed) in ${Date.now() - started} ms`,
      handover: { from: pair.source.kind, to: pair.target.kind, checked, changed },
    });
  }

  /**
   * `done`: some replica already reads the new backend (it reconciled it first, or finished the
   * handover, and the old backend may already be stale: it must not be copied again);
   * `mine`: this one is to reconcile (the oldest in the handover); `wait`: another one is.
   */
  private async reconciliationState(
    pair: MigratingBackend,
    version: number,
  ): Promise<'done' | 'mine' | 'wait'> {
    let others: RegisteredInstance[];
    try {
      others = await this.others();
    } catch {
      return 'wait';
    }
    const readsTarget = others.some(
      ({ sessionCache: other }) =>
        other.version >= version &&
        other.backend === pair.target.kind &&
        !(other.previous === pair.source.kind && other.readsPrevious),
    );
    if (readsTarget) return 'done';
    const inThisHandover = others.filter((other) => inHandover(other, pair, version));
    const self = { startedAt: this.runtime.startedAt.toISOString(), instanceId: this.self };
    const oldest = [self, ...inThisHandover].sort(
      (a, b) => a.startedAt.localeCompare(b.startedAt) || a.instanceId.localeCompare(b.instanceId),
    )[0];
    return oldest.instanceId === this.self ? 'mine' : 'wait';
  }

  /** Live replicas (by host and instance) not yet serving `version`; on a read error, "unknown". */
  private async behind(version: number): Promise<string[]> {
    try {
      return (await this.others())
        .filter((other) => other.sessionCache.version < version)
        .map(describeReplica);
    } catch (error) {
      return [`(the instance registry could not be read: ${describe(error)})`];
    }
  }

  /** Live replicas in this handover that still read the old backend. */
  private async readingPrevious(pair: MigratingBackend, version: number): Promise<string[]> {
    try {
      return (await this.others())
        .filter((other) => inHandover(other, pair, version) && other.sessionCache.readsPrevious)
        .map(describeReplica);
    } catch (error) {
      return [`(the instance registry could not be read: ${describe(error)})`];
    }
  }

  /** Polls `pending` until it is empty or `limitMs` passed; resolves to what was still pending. */
  private async waitWhile(pending: () => Promise<string[]>, limitMs: number): Promise<string[]> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      this.throwIfStopping();
      const left = await pending();
      if (left.length === 0 || Date.now() >= deadline) return left;
      await this.pause();
    }
  }

  private async pause(): Promise<void> {
    await delay(HANDOVER_POLL_MS, undefined, { signal: this.stopping.signal }).catch(() => {});
  }

  private throwIfStopping(): void {
    if (this.stopping.signal.aborted) {
      throw new HandoverAborted('The process is shutting down; the handover stops here');
    }
  }

  private get self(): string {
    return this.runtime.instanceId;
  }

  private async others(): Promise<RegisteredInstance[]> {
    return (await this.registry.live()).filter((instance) => instance.instanceId !== this.self);
  }
}

function inHandover(other: RegisteredInstance, pair: MigratingBackend, version: number): boolean {
  const report = other.sessionCache;
  return (
    report.version === version &&
    report.backend === pair.target.kind &&
    report.previous === pair.source.kind
  );
}

/**
 * Every session either backend holds, reconciled `RECONCILE_CONCURRENCY` at a time;
 * `checkpoint` runs between batches (it throws to stop at shutdown).
 */
async function reconcileAll(
  pair: MigratingBackend,
  checkpoint: () => void,
): Promise<{ checked: number; changed: number }> {
  const sids = new Set<string>();
  for (const backend of [pair.target, pair.source] as SessionBackend[]) {
    for await (const session of backend.entries()) sids.add(session.sid);
  }
  let changed = 0;
  let batch: Promise<boolean>[] = [];
  const settle = async () => {
    changed += (await Promise.all(batch)).filter(Boolean).length;
    batch = [];
  };
  for (const sid of sids) {
    batch.push(pair.reconcile(sid));
    if (batch.length >= RECONCILE_CONCURRENCY) {
      await settle();
      checkpoint();
    }
  }
  await settle();
  return { checked: sids.size, changed };
}

function describeReplica(instance: RegisteredInstance): string {
  return `${instance.host}/${instance.instanceId}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
