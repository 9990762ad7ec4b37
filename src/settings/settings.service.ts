import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { untilAborted } from '../common/abortable.js';
import { AppConfig } from '../config/app-config.js';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { describeIfMatch, type IfMatch, ifMatchVersion, matchesVersion } from './if-match.js';
import { deepFreeze, diffLeaves, type Json, type JsonObject, layer } from './merge-patch.js';
import {
  type PreflightRefusal,
  type PreparedChange,
  type PrepareFailure,
  type PrepareResult,
  SettingsEvent,
  type SettingsChangedEvent,
  SettingsEvents,
  type SettingsEventMap,
  type SettingsSnapshot,
} from './settings.events.js';
import { SettingsRepository, type StoredSettings } from './settings.repository.js';
import type { RuntimeSettingsValues } from './settings.schema.js';
import {
  maskSecrets,
  mergeOverrides,
  resolveOverrides,
  environmentDefaults,
  SETTINGS_DEFAULTS,
  sourcesOf,
  usableOverrides,
} from './settings-values.js';

/**
 * The one owner of the runtime settings. Holds the current settings as an immutable snapshot
 * that is replaced whole, so a reader never sees half a change. Every change and every reload
 * runs through one queue, so versions are applied in order and never N after N+1.
 *
 * Precedence: defaults (the field initialisers of RuntimeSettings) < the overrides persisted in
 * the database. Bootstrap settings (environment) are separate: AppConfig.
 */
@Injectable()
export class SettingsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(SettingsService.name);
  /** What the environment sets (see environmentDefaults), over the schema's defaults. */
  private readonly environment: JsonObject;
  /** The defaults in force: SETTINGS_DEFAULTS < the environment's. */
  private readonly base: JsonObject;
  private held!: SettingsSnapshot;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repository: SettingsRepository,
    private readonly events: SettingsEvents,
    private readonly runtime: RuntimeStateService,
    config: AppConfig,
  ) {
    this.environment = environmentDefaults(config);
    this.base = deepFreeze(layer(SETTINGS_DEFAULTS, this.environment));
    this.snapshot = deepFreeze({
      version: 0,
      values: this.base as unknown as RuntimeSettingsValues,
      sources: sourcesOf(this.environment, {}),
      updatedAt: 0,
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.repository.ensureRow(Date.now());
    this.snapshot = this.toSnapshot(await this.repository.load());
  }

  // Every version this process takes is published, so the registry shows which one it serves.
  private get snapshot(): SettingsSnapshot {
    return this.held;
  }

  private set snapshot(next: SettingsSnapshot) {
    this.held = next;
    this.runtime.setSettingsVersion(next.version);
  }

  /** The settings in force on this process. Keep the object you read: it never changes. */
  get current(): SettingsSnapshot {
    return this.snapshot;
  }

  /**
   * When the dotted `key` last changed: the version of that change (0 when it never did) and its
   * time. Replicas that skipped versions (a missed announcement) agree on it all the same.
   */
  async lastChangeOf(key: string): Promise<{ version: number; at: number }> {
    return (await this.repository.lastChangeOf(key)) ?? { version: 0, at: 0 };
  }

  /** The stored version, as it is now (one primary-key read). */
  async storedVersion(): Promise<number> {
    return (await this.repository.load()).version;
  }

  defaults(): Readonly<RuntimeSettingsValues> {
    return this.base as unknown as RuntimeSettingsValues;
  }

  /**
   * Validates `patch` (an RFC 7396 merge patch of the values) merged over the stored
   * overrides, asks the preflight listeners, lets the prepare listeners put the change in
   * force here (the session cache swaps), then persists the next version with its history row
   * (compare-and-set on the stored version `expected` matched: a number, or an If-Match
   * condition), and tells every listener. Throws ApiError: 412 when `expected` does not match
   * the stored version, 400 for invalid values, the refusal's status (422 by default)
   * when a preflight listener says no, 503 `swap_failed` when a prepare listener could not do
   * its work. Nothing is persisted unless everything passed, and nothing is in force unless it
   * was persisted: settings never say what this replica does not serve.
   */
  update(
    patch: unknown,
    expected: number | IfMatch,
    changedBy: string | null,
  ): Promise<SettingsSnapshot> {
    const condition: IfMatch = typeof expected === 'number' ? ifMatchVersion(expected) : expected;
    return this.serialize(async () => {
      const stored = await this.repository.load();
      // Another replica may have changed them since we last heard: catch up first.
      await this.applyStored(stored, 'remote');
      if (!matchesVersion(condition, stored.version)) {
        throw new ApiError(
          412,
          ErrorCode.VersionConflict,
          `Settings are at version ${stored.version}, not ${describeIfMatch(condition)}: reload them and apply your change again`,
        );
      }
      // The version the condition matched: the compare-and-set holds the change to it.
      const expectedVersion = stored.version;

      const overrides = mergeOverrides(
        usableOverrides(this.base, stored.overrides).overrides,
        patch,
      );
      const proposed = resolveOverrides(this.base, overrides, 'values');
      const changes = diffLeaves(
        this.snapshot.values as unknown as Json,
        proposed as unknown as Json,
      );
      const changedKeys = Object.keys(changes);
      if (changedKeys.length === 0) return this.snapshot;

      await this.preflight(proposed, changedKeys);

      const now = Date.now();
      const prepared = await this.prepare(proposed, changedKeys, expectedVersion + 1, now);
      let persisted: boolean;
      try {
        persisted = await this.repository.compareAndSet({
          expectedVersion,
          overrides,
          changedBy,
          changes: maskSecrets(changes),
          now,
        });
      } catch (error) {
        await abortAll(prepared, `the change could not be stored: ${describe(error)}`);
        throw error;
      }
      if (!persisted) {
        await abortAll(prepared, 'another change was stored first');
        throw new ApiError(
          412,
          ErrorCode.VersionConflict,
          `Settings changed while yours were checked: reload them and apply your change again`,
        );
      }
      const next = deepFreeze({
        version: expectedVersion + 1,
        values: proposed,
        sources: sourcesOf(this.environment, overrides),
        updatedAt: now,
      });
      // What was persisted came from the usable overrides only: nothing invalid is left.
      this.runtime.setInvalidSettings([]);
      this.logger.log({
        msg: `Settings changed to version ${next.version} by ${changedBy ?? 'system'}: ${changedKeys.join(', ')}`,
        settings: {
          version: next.version,
          changedBy,
          changedKeys,
          // As the history row stores them: secret-looking keys as [masked].
          changes: maskSecrets(changes),
        },
      });
      // The new snapshot is in force before the prepared work is committed, so no reader sees
      // the new backend served under the old settings.
      await this.publish(next, changedKeys, 'local', () => this.commitAll(prepared));
      this.events.emit(SettingsEvent.Committed, { version: next.version });
      return next;
    });
  }

  /**
   * Checks `patch` as `update` would (merged over the stored overrides, validated by the schema,
   * then the preflight listeners) and persists nothing. First-run setup calls it so that bad
   * initial settings, or a backend that cannot be reached, are refused before it writes the
   * admin. Field errors are named under `fieldPrefix` (`settings.siteName`).
   */
  check(patch: unknown, fieldPrefix = 'values'): Promise<void> {
    return this.serialize(async () => {
      const stored = await this.repository.load();
      await this.applyStored(stored, 'remote');
      const proposed = resolveOverrides(
        this.base,
        mergeOverrides(usableOverrides(this.base, stored.overrides).overrides, patch, fieldPrefix),
        fieldPrefix,
      );
      // Keys the caller names are checked even when they equal the current value: setup asking
      // for `memory` (the default) must still hear "no" when several replicas are live.
      const changedKeys = [
        ...new Set([
          ...Object.keys(
            diffLeaves(this.snapshot.values as unknown as Json, proposed as unknown as Json),
          ),
          ...Object.keys(diffLeaves(undefined, patch as Json)),
        ]),
      ];
      if (changedKeys.length > 0) await this.preflight(proposed, changedKeys);
    });
  }

  /**
   * Reloads from the database and applies a newer version, if there is one. Called when another
   * replica announces a change, and by the periodic reconciliation; idempotent.
   * `readTimeoutMs` bounds the read only, from when it starts (not the wait in the queue):
   * once a newer version is read, applying it (which may take this replica through a whole
   * session handover) is never abandoned halfway.
   */
  refresh({ readTimeoutMs }: { readTimeoutMs?: number } = {}): Promise<SettingsSnapshot> {
    return this.serialize(async () => {
      const deadline = readTimeoutMs === undefined ? undefined : AbortSignal.timeout(readTimeoutMs);
      await this.applyStored(await untilAborted(this.repository.load(), deadline), 'remote');
      return this.snapshot;
    });
  }

  private async applyStored(stored: StoredSettings, origin: 'local' | 'remote'): Promise<void> {
    if (stored.version <= this.snapshot.version) return;
    const next = this.toSnapshot(stored);
    const changedKeys = Object.keys(
      diffLeaves(this.snapshot.values as unknown as Json, next.values as unknown as Json),
    );
    await this.publish(next, changedKeys, origin);
  }

  /** Replaces the snapshot, then tells the listeners. A failing listener never undoes the change. */
  /** `beforeListeners` runs once `next` is in force, before anyone is told of it. */
  private async publish(
    next: SettingsSnapshot,
    changedKeys: string[],
    origin: SettingsChangedEvent['origin'],
    beforeListeners?: () => Promise<void>,
  ): Promise<void> {
    const previous = this.snapshot;
    this.snapshot = next;
    await beforeListeners?.();
    const event: SettingsEventMap[typeof SettingsEvent.Changed] = {
      previous,
      next,
      changedKeys,
      origin,
    };
    try {
      await this.events.emitAsync(SettingsEvent.Changed, event);
    } catch (error) {
      this.runtime.reportListenerFailure(SettingsEvent.Changed, error);
      this.logger.error(
        `A settings.changed listener failed for version ${next.version}; the change stays persisted: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }

  /** Commits what the prepare listeners did; the change is stored, so a failure is only logged. */
  private async commitAll(prepared: PreparedChange[]): Promise<void> {
    await Promise.all(
      prepared.map((change) =>
        change.commit().catch((error: unknown) => {
          this.runtime.reportListenerFailure(SettingsEvent.Prepare, error);
        }),
      ),
    );
  }

  /**
   * Asks the prepare listeners to put the change in force on this replica. If one fails, what
   * the others did is undone, and the change is refused with its status (503 `swap_failed`).
   */
  private async prepare(
    proposed: RuntimeSettingsValues,
    changedKeys: string[],
    version: number,
    at: number,
  ): Promise<PreparedChange[]> {
    const event: SettingsEventMap[typeof SettingsEvent.Prepare] = {
      current: this.snapshot,
      proposed,
      changedKeys,
      version,
      at,
    };
    const results = (await this.events.emitAsync(SettingsEvent.Prepare, event)) as PrepareResult[];
    const prepared = results.filter(
      (result): result is PreparedChange => typeof result === 'object' && 'commit' in result,
    );
    const failure = results.find(
      (result): result is PrepareFailure => typeof result === 'object' && 'failed' in result,
    );
    if (failure) {
      await abortAll(prepared, failure.message);
      throw new ApiError(failure.status, failure.code, failure.message);
    }
    return prepared;
  }

  private async preflight(proposed: RuntimeSettingsValues, changedKeys: string[]): Promise<void> {
    const event: SettingsEventMap[typeof SettingsEvent.Preflight] = {
      current: this.snapshot,
      proposed,
      changedKeys,
    };
    let verdicts: unknown[];
    try {
      verdicts = await this.events.emitAsync(SettingsEvent.Preflight, event);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError(
        422,
        ErrorCode.BackendUnavailable,
        `The change was refused: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const refusal = verdicts.find(
      (verdict): verdict is PreflightRefusal =>
        typeof verdict === 'object' &&
        verdict !== null &&
        (verdict as PreflightRefusal).refuse === true,
    );
    if (refusal) {
      throw new ApiError(
        refusal.status ?? 422,
        refusal.code ?? ErrorCode.BackendUnavailable,
        refusal.message,
      );
    }
  }

  private toSnapshot(stored: StoredSettings): SettingsSnapshot {
    const { overrides, invalid } = usableOverrides(this.base, stored.overrides);
    if (invalid.length > 0) {
      this.logger.error({
        msg: `Stored settings version ${stored.version} hold values Keel cannot use; their defaults are in force until a change replaces them: ${invalid
          .map((error) => `${error.field} (${error.message})`)
          .join(', ')}`,
        settings: { version: stored.version, invalid: invalid.map((error) => error.field) },
      });
    }
    this.runtime.setInvalidSettings(
      invalid.map((error) => ({ key: error.field, message: error.message })),
    );
    return deepFreeze({
      version: stored.version,
      values: resolveOverrides(this.base, overrides, 'stored'),
      sources: sourcesOf(this.environment, overrides),
      updatedAt: stored.updatedAt,
    });
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

async function abortAll(prepared: PreparedChange[], reason: string): Promise<void> {
  await Promise.all(prepared.map((change) => change.abort(reason)));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
