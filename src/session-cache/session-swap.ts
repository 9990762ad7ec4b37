import { Injectable, Logger } from '@nestjs/common';
import type { PreparedChange, SettingsChangedEvent } from '../settings/settings.events.js';
import { SettingsService } from '../settings/settings.service.js';
import type { SessionCacheSwap } from '../runtime-state/runtime-state.service.js';
import { ActiveSessionBackend } from './active-session-backend.js';
import { MigratingBackend } from './migrating-backend.js';
import type { RecentWritesTaken } from './recent-writes.js';
import {
  SessionCacheEvent,
  SessionCacheEvents,
  swapLogFields,
  swapOutcome,
} from './session-cache.events.js';
import { carryOver, closeWhenDrained, copyAll, DRAIN_TIMEOUT_MS } from './session-copy.js';
import type { SessionBackend, SessionBackendKind } from './session-backend.js';
import { SessionBackendFactory } from './session-backend-factory.js';
import { HandoverAborted, SessionHandover } from './session-handover.js';

/** Clock difference tolerated between the replica that accepted a change and this one. */
const CLOCK_SKEW_ALLOWANCE_MS = 60_000;
/** A handover that failed (a backend timed out mid-pass) is tried again after this, doubling. */
const HANDOVER_RETRY: Readonly<{ initialMs: number; maxMs: number }> = {
  initialMs: 1000,
  maxMs: 30_000,
};

/** What a swap's copy leaves for the steps after it. */
interface Copied {
  source: SessionBackend;
  target: SessionBackend;
  pair: MigratingBackend;
  written: RecentWritesTaken | undefined;
  /** From when this replica's own starts and ends were taken out of its journal. */
  since: number;
  started: number;
  migrated: number;
}

/** The settings change a swap applies. */
export interface SwapChange {
  /**
   * The settings version that set this backend (not a later one that changed something else):
   * every replica names a handover by it, whichever versions it skipped.
   */
  version: number;
  /** When it was persisted (epoch ms, the accepting replica's clock). */
  changedAt: number;
}

/**
 * Moves the session cache to another backend while requests keep flowing. Swaps run one after
 * another, in the order the settings changed; a swap's handover (other replicas) delays the
 * next swap but not the settings change that asked for it.
 */
@Injectable()
export class SessionSwap {
  private readonly logger = new Logger('SessionCacheService');
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly active: ActiveSessionBackend,
    private readonly factory: SessionBackendFactory,
    private readonly handover: SessionHandover,
    private readonly events: SessionCacheEvents,
    private readonly settings: SettingsService,
  ) {}

  /** Resolves once every swap queued so far, handovers included, has ended. */
  async idle(): Promise<void> {
    await this.queue;
  }

  /**
   * The accepting replica's swap, before the change is persisted (the settings' prepare step):
   * 1. build the new backend and check it answers;
   * 2. empty it, so nothing stale from an earlier era survives there, then make the migrating
   *    pair active: writes go to both; reads use the old one if it is shared (other replicas
   *    may still write it alone); the old one first if it is this process's own memory and
   *    the new one was emptied (nobody else writes it); else the new one first;
   * 3. copy every live session of the old backend across (newer data wins, expiry kept).
   * A failure reverts to the old backend, which the dual writes kept complete, and rejects.
   * Resolves to the prepared change: `commit` (the change is stored) uses the new backend
   * alone, at once or after the cross-replica handover; `abort` (it is not) reverts. Other
   * swaps wait until one of them is called.
   */
  async prepare(kind: SessionBackendKind, change: SwapChange): Promise<PreparedChange> {
    let release!: (next?: Promise<unknown>) => void;
    const released = new Promise<Promise<unknown> | undefined>((resolve) => (release = resolve));
    const previous = this.queue;
    this.queue = released.then((next) => next).catch(() => undefined);
    let copied: Copied | undefined;
    try {
      await previous;
      copied = await this.copy(kind, 'local', change);
    } catch (error) {
      release();
      throw error;
    }
    if (!copied) {
      // This replica serves `kind` already (it had not followed an earlier change): there is
      // nothing to move, only the registry to tell once the change is stored.
      return {
        commit: async () => {
          await this.report(kind, change.version).finally(() => release());
        },
        abort: async () => release(),
      };
    }
    const prepared = copied;
    return {
      commit: async () => {
        let handover: Promise<void> | undefined;
        try {
          ({ handover } = await this.afterCopy(prepared, 'local', change));
        } catch (error) {
          this.logger.error(`Session cache swap to ${kind}: after the copy: ${describe(error)}`);
        } finally {
          release(handover);
        }
      },
      abort: async (reason) => {
        // Not a failed swap (the copy went through): the change lost a race, or could not be
        // stored. Back to the old backend, said once, not counted as a failure.
        this.logger.warn(
          `Session cache back on ${prepared.source.kind}: the change to ${kind} was not stored (${reason})`,
        );
        this.revert({ ...prepared, kind }, `the change was not stored (${reason})`, 'local', {
          quiet: true,
          counted: false,
        });
        release();
      },
    };
  }

  /**
   * A change another replica made (origin `remote`): with a shared old backend this replica
   * does not empty or copy it, it carries over only what it started or ended there alone since
   * the change (`RecentWrites`); from a process-local one it copies all of its own. Then as
   * `prepare` + `commit`. Resolves after the copy; the handover goes on in the background.
   */
  swap(
    kind: SessionBackendKind,
    change: SwapChange,
    { quiet = false }: { quiet?: boolean } = {},
  ): Promise<void> {
    const run = this.queue.then(async () => {
      // The settings may have moved on while this waited its turn (a later change, or a
      // follower's retry racing the change itself): only what they name now is followed.
      if (this.active.status().desired !== kind) {
        this.active.swapEnded();
        return {};
      }
      const copied = await this.copy(kind, 'remote', change, quiet);
      if (!copied) {
        this.active.swapEnded();
        await this.report(kind, change.version);
        return {};
      }
      return this.afterCopy(copied, 'remote', change);
    });
    this.queue = run.then(
      ({ handover }) => handover,
      () => undefined,
    );
    return run.then(() => undefined);
  }

  /**
   * The settings moved on (a later backend change) while this replica already serves what they
   * name (it skipped versions and the backend came back to its own): it says so, so that no
   * handover waits for it.
   */
  confirm(kind: SessionBackendKind, version: number): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.active.backend.kind !== kind || this.active.backend instanceof MigratingBackend) {
        return;
      }
      await this.report(kind, version);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * At start-up, while other replicas hand `source` over to `target` (settings `version`):
   * this replica joins them, writing both and reading where they read, instead of serving
   * `target` alone.
   */
  async join(source: SessionBackend, target: SessionBackend, version: number): Promise<void> {
    const pair = new MigratingBackend(source, target);
    pair.reads = 'source';
    this.active.swapStarted();
    this.active.use(pair);
    await this.handover.report(
      { backend: target.kind, version, previous: source.kind, readsPrevious: true },
      { register: true },
    );
    this.logger.log(
      `Joined the session cache handover ${source.kind} -> ${target.kind} of the other replicas`,
    );
    this.queue = this.queue.then(() => this.handOver(pair, version));
  }

  /** Steps 1 to 3 (see `prepare` and `swap`); undefined when `kind` is served already. */
  /** `quiet`: a failure is the caller's to log (it retries, and says so once per attempt). */
  private async copy(
    kind: SessionBackendKind,
    origin: SettingsChangedEvent['origin'],
    change: SwapChange,
    quiet = false,
  ): Promise<Copied | undefined> {
    const source = this.active.backend;
    if (source.kind === kind) return undefined;
    const started = Date.now();
    this.active.swapStarted();
    let target: SessionBackend | undefined;
    let pair: MigratingBackend | undefined;
    let migrated = 0;
    let written: RecentWritesTaken | undefined;
    let emptied = false;
    const since = change.changedAt - CLOCK_SKEW_ALLOWANCE_MS;
    try {
      target = await this.factory.build(kind, { waitForConnection: true });
      await target.ping();
      if (origin === 'local') {
        // Another replica may have stored a change meanwhile (two PATCHes raced): this one
        // will lose, so it must not empty a backend the winner may already be filling.
        if ((await this.settings.storedVersion()) !== change.version - 1) {
          throw new Error('another settings change was stored meanwhile: read them again');
        }
        emptied = !(await this.handover.servedElsewhere(kind));
        if (emptied) await target.clear();
      }
      pair = new MigratingBackend(source, target);
      // A shared old backend is the one every replica writes until all have switched (the
      // late ones write nothing else), so until then it is the one to read; unless some
      // replica already uses the new one alone (this one is late past the handover): then the
      // old one is stale, and only the new one may be read.
      if (source.shared) {
        const stale =
          origin === 'remote' && (await this.handover.readAloneElsewhere(kind, change.version));
        pair.reads = stale ? 'target' : 'source';
      } else if (emptied) {
        // Until the change is stored nobody else writes the new backend (see PairReads).
        pair.reads = 'source-then-target';
      }
      this.active.use(pair);
      // From here every write goes to both; what this replica did before, to `source` alone:
      written = this.active.journal.take(since);
      if (origin === 'local' || !source.shared) {
        const total = await source.length();
        this.active.swapProgress({ migrated: 0, total });
        migrated = await copyAll(source, pair, (done) =>
          this.active.swapProgress({ migrated: done, total: Math.max(total, done) }),
        );
      } else {
        await this.active.journal.settled(DRAIN_TIMEOUT_MS);
        migrated = await carryOver(written, pair);
      }
    } catch (error) {
      this.revert(
        { source, kind, target, pair, written, since, started, migrated },
        describe(error),
        origin,
        { quiet },
      );
      throw error;
    }
    const copied: Copied = { source, target, pair, written, since, started, migrated };
    const outcome = swapOutcome({ from: source.kind, to: kind, started, migrated });
    this.active.swapReported(outcome);
    this.logger.log({
      msg: `Session cache swapped ${source.kind} -> ${kind}: ${migrated} sessions migrated in ${outcome.durationMs} ms`,
      ...swapLogFields(outcome, origin),
    });
    return copied;
  }

  /** Back to the old backend (the dual writes kept it complete); the swap counts as failed. */
  /**
   * `quiet`: the caller logs; `counted: false`: not a failed swap (the copy went through, the
   * change was not stored), so no `session-cache.swapped` failure is counted.
   */
  private revert(
    swap: Omit<Copied, 'pair' | 'target'> & {
      kind: SessionBackendKind;
      target?: SessionBackend;
      pair?: MigratingBackend;
    },
    error: string,
    origin: SettingsChangedEvent['origin'],
    { quiet = false, counted = true }: { quiet?: boolean; counted?: boolean } = {},
  ): void {
    const { source, kind, target, pair, written, since } = swap;
    this.active.use(source);
    // The next attempt carries these over instead.
    if (written) this.active.journal.restore(written, since);
    // Requests that started on the pair finish before the new backend is closed.
    if (target) void closeWhenDrained(pair, target);
    const failed: SessionCacheSwap = {
      ...swapOutcome({
        from: swap.source.kind,
        to: kind,
        started: swap.started,
        migrated: swap.migrated,
      }),
      error,
    };
    this.active.swapReported(failed);
    this.active.swapEnded();
    if (!counted) return;
    if (!quiet) {
      this.logger.error({
        msg: `Session cache swap ${source.kind} -> ${failed.to} failed; ${source.kind} stays in force: ${error}`,
        ...swapLogFields(failed, origin),
      });
    }
    this.events.emit(SessionCacheEvent.Swapped, failed);
  }

  /**
   * Step 4: the registry hears which backend this replica serves; the new backend alone at
   * once (resolved when done), or after the cross-replica handover (`handover`, which never
   * rejects, goes on in the background). Another replica's copy may have been cut short (it
   * died) or a late one may have lost its journal (it restarted): a remote swap from a shared
   * backend always goes through the handover, whose reconciliation covers both.
   */
  private async afterCopy(
    { source, pair }: Copied,
    origin: SettingsChangedEvent['origin'],
    change: SwapChange,
  ): Promise<{ handover?: Promise<void> }> {
    // Stored: other replicas may write the new backend from now on (see PairReads).
    if (pair.reads === 'source-then-target') pair.reads = 'target-then-source';
    const handingOver =
      source.shared && (origin === 'remote' || (await this.handover.othersLive()) > 0);
    await this.handover.report({
      backend: pair.target.kind,
      version: change.version,
      previous: handingOver ? source.kind : null,
      readsPrevious: handingOver,
    });
    if (!handingOver) {
      await this.finish(pair, change.version);
      return {};
    }
    // Not awaited by the settings change: the other replicas hear of the change only after
    // it is applied here.
    return { handover: this.handOver(pair, change.version) };
  }

  private report(kind: SessionBackendKind, version: number): Promise<void> {
    return this.handover.report({ backend: kind, version, previous: null, readsPrevious: false });
  }

  /**
   * Completes the handover in the background, trying again (writing both backends meanwhile)
   * when a step fails; never rejects.
   */
  private async handOver(pair: MigratingBackend, version: number): Promise<void> {
    for (let retryMs = HANDOVER_RETRY.initialMs; ;) {
      try {
        await this.handover.complete(pair, version);
        break;
      } catch (error) {
        // Shutting down: keep writing both until the backends are closed.
        if (error instanceof HandoverAborted) return;
        this.logger.error(
          `Session cache handover ${pair.source.kind} -> ${pair.target.kind} failed, trying again in ${retryMs} ms (both backends stay written): ${describe(error)}`,
        );
        if (!(await this.handover.pause(retryMs))) return;
        retryMs = Math.min(retryMs * 2, HANDOVER_RETRY.maxMs);
      }
    }
    await this.finish(pair, version);
    this.logger.log(`Session cache handover ${pair.source.kind} -> ${pair.target.kind} complete`);
  }

  /** The new backend alone from now; the old one is closed once calls still on it end. */
  private async finish(pair: MigratingBackend, version: number): Promise<void> {
    if (this.active.backend === pair) this.active.use(pair.target);
    await this.handover.report({
      backend: pair.target.kind,
      version,
      previous: null,
      readsPrevious: false,
    });
    this.active.swapEnded();
    // A handover this replica joined at start-up is not a swap it ran: nothing to count.
    const { lastSwap } = this.active.status();
    if (lastSwap?.to === pair.target.kind) this.events.emit(SessionCacheEvent.Swapped, lastSwap);
    // In the background: the change that asked for this swap need not wait for old requests.
    void closeWhenDrained(pair, pair.source);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
