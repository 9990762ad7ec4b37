import { EventEmitter2 } from '@nestjs/event-emitter';
import type { AppConfig } from '../../src/config/app-config.js';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import type { JsonObject } from '../../src/settings/merge-patch.js';
import { SettingsEvents, type SettingsEventMap } from '../../src/settings/settings.events.js';
import type {
  SettingsChange,
  SettingsHistoryEntry,
  SettingsRepository,
  StoredSettings,
} from '../../src/settings/settings.repository.js';
import { SettingsService } from '../../src/settings/settings.service.js';

type Hook = () => Promise<void> | void;

/**
 * SettingsRepository's contract (one row, compare-and-set, history) in memory: what the
 * PostgreSQL and SQLite suites check against real databases, here so that SettingsService's
 * own decisions can be tested by the hundred. Hooks hold or fail a call where a test needs it.
 */
export class InMemorySettingsRepository implements Pick<
  SettingsRepository,
  keyof SettingsRepository
> {
  private row: StoredSettings = { version: 0, overrides: {}, updatedAt: 0 };
  private readonly rows: SettingsHistoryEntry[] = [];
  /** Runs before each read / compare-and-set (await a gate, throw an outage...). */
  beforeLoad: Hook | undefined;
  beforeCompareAndSet: Hook | undefined;
  loads = 0;

  async ensureRow(): Promise<void> {}

  async load(): Promise<StoredSettings> {
    this.loads += 1;
    await this.beforeLoad?.();
    return structuredClone(this.row);
  }

  async compareAndSet(change: SettingsChange): Promise<boolean> {
    await this.beforeCompareAndSet?.();
    if (this.row.version !== change.expectedVersion) return false;
    this.write(change);
    return true;
  }

  async lastChangeOf(key: string): Promise<{ version: number; at: number } | undefined> {
    const row = this.rows.find((entry) => key in entry.changes);
    return row && { version: row.version, at: Date.parse(row.changedAt) };
  }

  async history(limit: number): Promise<SettingsHistoryEntry[]> {
    return structuredClone(this.rows.slice(0, limit));
  }

  /** What is stored now. */
  get stored(): StoredSettings {
    return structuredClone(this.row);
  }

  /** Another replica stores a change (no preflight here: that was its own). */
  storeElsewhere(overrides: JsonObject, changedBy = 'another-replica'): number {
    const before = flatten(this.row.overrides);
    const after = flatten(overrides);
    // As the service records a change: the keys whose value changed, nothing else.
    const changes = Object.fromEntries(
      Object.keys({ ...before, ...after })
        .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
        .map((key) => [key, { from: before[key], to: after[key] }]),
    );
    this.write({
      expectedVersion: this.row.version,
      overrides,
      changedBy,
      changes,
      now: Date.now(),
    });
    return this.row.version;
  }

  private write(change: SettingsChange): void {
    this.row = {
      version: change.expectedVersion + 1,
      overrides: structuredClone(change.overrides),
      updatedAt: change.now,
    };
    this.rows.unshift({
      version: this.row.version,
      changedAt: new Date(change.now).toISOString(),
      changedBy: change.changedBy,
      changes: structuredClone(change.changes),
    });
  }
}

function flatten(value: JsonObject, prefix = ''): Record<string, unknown> {
  const leaves: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (child !== null && typeof child === 'object' && !Array.isArray(child)) {
      Object.assign(leaves, flatten(child as JsonObject, `${prefix}${key}.`));
    } else leaves[`${prefix}${key}`] = child;
  }
  return leaves;
}

export interface TestSettings {
  settings: SettingsService;
  repository: InMemorySettingsRepository;
  events: SettingsEvents;
  runtime: RuntimeStateService;
  /** Adds a listener as `@OnSettingsEvent` would (its result goes back to `emitAsync`). */
  listen<Name extends keyof SettingsEventMap>(
    event: Name,
    listener: (payload: SettingsEventMap[Name]) => unknown,
  ): void;
}

/** The bootstrap environment as SettingsService reads it: a process on SQLite with no Redis. */
export const PLAIN_ENVIRONMENT: Pick<AppConfig, 'redisUrl' | 'database' | 'sessionCacheBackend'> = {
  redisUrl: undefined,
  database: { dialect: 'sqlite', file: '/nonexistent/keel.sqlite' },
  sessionCacheBackend: undefined,
};

/**
 * A SettingsService on an in-memory repository with real events and runtime state, booted as
 * Nest would (`onApplicationBootstrap`), in `environment` (default: SQLite, no Redis, so the
 * session cache defaults to memory). Listeners are the test's own.
 */
export async function newTestSettingsService({
  repository = new InMemorySettingsRepository(),
  environment = PLAIN_ENVIRONMENT,
}: {
  repository?: InMemorySettingsRepository;
  environment?: Pick<AppConfig, 'redisUrl' | 'database' | 'sessionCacheBackend'>;
} = {}): Promise<TestSettings> {
  const emitter = new EventEmitter2();
  const events = new SettingsEvents(emitter);
  const runtime = new RuntimeStateService();
  const settings = new SettingsService(
    repository as unknown as SettingsRepository,
    events,
    runtime,
    environment as AppConfig,
  );
  await settings.onApplicationBootstrap();
  return {
    settings,
    repository,
    events,
    runtime,
    listen: (event, listener) => {
      emitter.on(event, listener as (payload: unknown) => unknown);
    },
  };
}
