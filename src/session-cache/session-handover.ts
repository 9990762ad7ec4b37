import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import {
  InstanceRegistry,
  type RegisteredInstance,
  type SessionCacheReport,
} from '../replicas/instance-registry.js';
import {
  handoverLimitMs,
  REPLICA_TIMINGS,
  type ReplicaTimings,
} from '../replicas/replica-timings.js';
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
   * Whether another live replica serves or still writes `kind` now (or the registry cannot
   * say): then it holds live sessions, not stale ones, and must not be emptied. (A swap with
   * other replicas live reconciles the new backend before anyone reads it, so what is stale
   * there goes then.)
   */
  async servedElsewhere(kind: SessionBackendKind): Promise<boolean> {
    if (kind === 'memory') return false;
    try {
      return (await this.others()).some(
        ({ sessionCache: other }) => other.backend === kind || other.previous === kind,
      );
    } catch {
      return true;
    }
  }

  /**
   * Whether some live replica already reads `kind` alone for the backend change of `version`
   * (or a later one): its handover is past the reconciliation, so the old backend may be stale
   * and must not be read, nor copied from, any more.
   */
  async readAloneElsewhere(kind: SessionBackendKind, version: number): Promise<boolean> {
    try {
      return (await this.others()).some(({ sessionCache: other }) =>
        readsTargetAlone(other, kind, version),
      );
    } catch {
      return false;
    }
  }

  /**
   * At start-up, with the settings naming `desired` since the backend change of `version`: the
   * shared backend the replicas in a handover to `desired` still read, which this replica must
   * then join (read it too, write both); undefined when no handover is in progress. A replica
   * merely left behind on an older backend is no handover: it is not joined. If the registry
   * cannot be read the boot fails rather than guess.
   */
  async inProgressTo(
    desired: SessionBackendKind,
    version: number,
  ): Promise<SessionBackendKind | undefined> {
    for (const { sessionCache: other } of await this.others()) {
      if (
        other.version === version &&
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
    // A replica that does not switch is waited for up to the limit only (it may be stuck, or
    // unable to reach the new backend): it is then left behind. Everything after waits for
    // live replicas as long as they take: correctness before speed.
    const limitMs = handoverLimitMs(this.timings);
    const late = await this.waitWhile(() => this.behind(version), limitMs);
    if (late.length > 0) {
      this.logger.warn(
        `Session cache handover to ${target.kind}: ${late.join(', ')} did not switch within ${limitMs} ms; they are left reading ${source.kind} alone until they switch`,
      );
    }
    await this.reconciled(pair, version);
    pair.reads = 'target';
    await this.report({
      backend: target.kind,
      version,
      previous: source.kind,
      readsPrevious: false,
    });
    await this.waitWhile(() => this.readingPrevious(pair, version), Number.POSITIVE_INFINITY);
  }

  /**
   * Before anyone reads the new backend alone, one replica (the oldest live one in the
   * handover) makes it agree with the old one: sessions the old one no longer has are
   * destroyed, the others copied where they differ. The rest wait until a replica reads the
   * new backend (it did that pass); if the oldest dies first, the next oldest does it.
   */
  private async reconciled(pair: MigratingBackend, version: number) {
    if (!pair.source.shared) return;
    for (;;) {
      this.throwIfStopping();
      const state = await this.reconciliationState(pair, version);
      if (state === 'done') return;
      if (state === 'mine') break;
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
    if (
      others.some(({ sessionCache: other }) => readsTargetAlone(other, pair.target.kind, version))
    ) {
      return 'done';
    }
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

  /** Waits `ms` (a poll by default); resolves to false when the process is shutting down. */
  async pause(ms = HANDOVER_POLL_MS): Promise<boolean> {
    await delay(ms, undefined, { signal: this.stopping.signal }).catch(() => {});
    return !this.stopping.signal.aborted;
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

/** `report` reads `kind` alone (not the old backend) since the backend change of `version` or later. */
function readsTargetAlone(report: SessionCacheReport, kind: SessionBackendKind, version: number) {
  return report.version >= version && report.backend === kind && !report.readsPrevious;
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
