import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnModuleInit,
} from '@nestjs/common';
import { sql } from 'kysely';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { untilAborted } from '../common/abortable.js';
import { databaseNowMs } from '../database/clock.js';
import { DatabaseService } from '../database/database.service.js';
import type { InstancesTable } from '../database/schema.js';
import {
  EXPIRE_HEARTBEATS,
  LIVE_HEARTBEATS,
  REPLICA_TIMINGS,
  type ReplicaTimings,
} from './replica-timings.js';
import {
  type Phase,
  RuntimeStateService,
  type SessionCacheStatus,
} from '../runtime-state/runtime-state.service.js';
import { TaskSupervisor, type TaskStatus } from '../tasks/task-supervisor.js';

/** Tests beat every 100 ms; a loaded machine still answers a beat within this. */
const MIN_BEAT_DEADLINE_MS = 1000;
/** How long shutdown waits for a beat in flight before removing this replica's row. */
const SHUTDOWN_BEAT_WAIT_MS = 2000;
/**
 * A change of what a replica shows (a swap's progress) is written this soon, not at the next
 * heartbeat, so other replicas' consoles see a swap move; bursts share one write.
 */
const REPORT_DELAY_MS = 200;

/** One live replica, as `/api/runtime` lists it. */
export interface LiveInstance {
  readonly instanceId: string;
  /** ISO 8601. */
  readonly startedAt: string;
  readonly phase: Phase;
  readonly host: string;
  readonly pid: number;
  /** Keel's version (package.json). */
  readonly version: string;
  readonly sessionBackend: 'memory' | 'database' | 'redis';
  /** ISO 8601, by the database's clock. */
  readonly heartbeatAt: string;
  /** The settings version the replica serves; null for a replica that does not say. */
  readonly settingsVersion: number | null;
  /** The replica's session cache, as its own `/api/runtime` shows it; null when it does not say. */
  readonly sessionCacheStatus: SessionCacheStatus | null;
  /** The replica's supervised tasks (empty for one that does not say). */
  readonly tasks: readonly TaskStatus[];
}

/** What each replica writes of itself into its row (`instances.report`, JSON). */
export interface InstanceReport {
  readonly settingsVersion: number;
  readonly sessionCacheStatus: SessionCacheStatus;
  readonly tasks: readonly TaskStatus[];
}

/** Which session backend a replica serves, as the session cache's handover reads it. */
export interface SessionCacheReport {
  readonly backend: InstancesTable['session_backend'];
  /** The settings version whose session-cache backend the replica serves. */
  readonly version: number;
  /** During a handover: the old backend the replica still writes; null otherwise. */
  readonly previous: InstancesTable['session_backend'] | null;
  /** During a handover: whether the replica still reads the old backend. */
  readonly readsPrevious: boolean;
}

/** What the registry knows of a replica beyond what `/api/runtime` shows. */
export interface RegisteredInstance extends LiveInstance {
  readonly sessionCache: SessionCacheReport;
}

/** Keel's own version, read once from the package.json next to src/ (or dist/). */
function readPackageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/**
 * The registry of running replicas, in the shared database: each process upserts its own row
 * every `heartbeatIntervalMs` (a supervised, non-critical task: a database outage must not fail
 * liveness), deletes rows silent for `EXPIRE_HEARTBEATS` intervals, and deletes its own row when
 * it shuts down. A replica is live while its heartbeat is younger than `LIVE_HEARTBEATS`
 * intervals. Heartbeats are stamped and compared by the database's clock.
 *
 * Who reads it: `/api/runtime` (`instances`), the split-brain guard (a process-local session
 * backend with more than one live replica), and the session cache, which keeps the old backend
 * in use during a swap until every live replica has switched (`sessionCacheVersion`).
 */
@Injectable()
export class InstanceRegistry implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(InstanceRegistry.name);
  readonly host = hostname();
  readonly pid = process.pid;
  readonly version = readPackageVersion();
  private sessionCache: SessionCacheReport = Object.freeze({
    backend: 'memory',
    version: 0,
    previous: null,
    readsPrevious: false,
  });
  /** The live replicas as the last heartbeat saw them (this one included once it beat). */
  private lastSeen: readonly RegisteredInstance[] = Object.freeze([]);
  /** Heartbeats run one at a time (the periodic task and `beatNow`): the last one asked for. */
  private beating: Promise<unknown> = Promise.resolve();
  /** The beat waiting for the one in flight, which later asks share. */
  private nextBeat: Promise<void> | undefined;
  private registered = false;
  private closed = false;
  private reportTimer: NodeJS.Timeout | undefined;
  private stopReporting: (() => void) | undefined;

  constructor(
    private readonly database: DatabaseService,
    private readonly runtime: RuntimeStateService,
    private readonly supervisor: TaskSupervisor,
    @Inject(REPLICA_TIMINGS) private readonly timings: ReplicaTimings,
  ) {}

  onModuleInit(): void {
    // Starts when the instance is ready: a replica still migrating is not one to count.
    this.supervisor.registerPeriodic({
      name: 'instance-heartbeat',
      critical: false,
      intervalMs: this.timings.heartbeatIntervalMs,
      // A beat later than one interval is as good as missed: past that the run gives up
      // waiting (a crash, shown in /api/runtime) and the next one waits for the same beat.
      timeoutMs: Math.max(this.timings.heartbeatIntervalMs, MIN_BEAT_DEADLINE_MS),
      backoff: { initialMs: this.timings.heartbeatIntervalMs, maxMs: 30_000 },
      run: ({ signal }) => this.beatNow(signal),
    });
    this.stopReporting = this.runtime.onStatusChange(() => this.reportSoon());
  }

  /** This replica as its own row shows it (what it writes into `report`). */
  ownReport(): InstanceReport {
    return {
      settingsVersion: this.runtime.settingsVersion,
      sessionCacheStatus: this.runtime.sessionCacheStatus,
      tasks: this.supervisor.statuses(),
    };
  }

  private reportSoon(): void {
    if (!this.registered || this.closed || this.reportTimer) return;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      // A failed write is the heartbeat task's to report; the next beat carries the report.
      this.beatNow().catch(() => undefined);
    }, REPORT_DELAY_MS);
    this.reportTimer.unref();
  }

  get liveWindowMs(): number {
    return LIVE_HEARTBEATS * this.timings.heartbeatIntervalMs;
  }

  /** The live replicas as of the last heartbeat (at most one interval old); no query. */
  get lastSeenLive(): readonly RegisteredInstance[] {
    return this.lastSeen;
  }

  /**
   * Published by the session cache whenever the backend it serves, or its part in a handover,
   * changes; written to this replica's row at once once it is registered (other replicas may
   * be waiting for it). `register`: write the row now even before this replica is ready, for
   * a replica that joins a handover at start-up and must be seen reading the old backend
   * before it serves a request.
   */
  reportSessionCache(
    report: SessionCacheReport,
    { register = false }: { register?: boolean } = {},
  ): Promise<void> {
    this.sessionCache = Object.freeze({ ...report });
    return this.registered || register ? this.beatNow() : Promise.resolve();
  }

  /** The live replicas now (this one included once it beat), oldest first. */
  async live(): Promise<RegisteredInstance[]> {
    const db = this.database.db;
    const now = databaseNowMs(this.database.dialect);
    const rows = await db
      .selectFrom('instances')
      .selectAll()
      .where('heartbeat_at', '>', sql<number>`${now} - ${this.liveWindowMs}`)
      .orderBy('started_at')
      .orderBy('instance_id')
      .execute();
    return rows.map(toInstance);
  }

  /**
   * One heartbeat: upsert this replica's row, expire silent ones, and remember who is live.
   * Beats run one at a time, so a late one can never land after a newer report (a handover
   * step) and undo it; asks made while one is in flight share the next one, which reads the
   * state when it starts. `signal` ends the caller's wait, not the beat: a query already sent
   * can't be taken back, and on a stalled link nothing piles up behind it but that one beat.
   */
  beatNow(signal?: AbortSignal): Promise<void> {
    if (!this.nextBeat) {
      const next: Promise<void> = this.beating.then(() => {
        if (this.nextBeat === next) this.nextBeat = undefined;
        return this.beat();
      });
      this.nextBeat = next;
      this.beating = next.catch(() => undefined);
    }
    return untilAborted(this.nextBeat, signal);
  }

  /** Graceful shutdown: this replica leaves the registry at once instead of expiring. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.stopReporting?.();
    clearTimeout(this.reportTimer);
    // A beat stuck on a stalled link must not hold up shutdown (its row then expires).
    await untilAborted(this.beating, AbortSignal.timeout(SHUTDOWN_BEAT_WAIT_MS)).catch(
      () => undefined,
    );
    if (!this.registered) return;
    try {
      await this.database.db
        .deleteFrom('instances')
        .where('instance_id', '=', this.runtime.instanceId)
        .execute();
    } catch (error) {
      this.logger.warn(
        `Could not remove this instance from the registry; its row expires by itself: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }

  private async beat(): Promise<void> {
    if (this.closed) return;
    const db = this.database.db;
    const now = databaseNowMs(this.database.dialect);
    const row = {
      host: this.host,
      pid: this.pid,
      started_at: this.runtime.startedAt.getTime(),
      version: this.version,
      phase: this.runtime.phase,
      session_backend: this.sessionCache.backend,
      session_cache_version: this.sessionCache.version,
      session_previous_backend: this.sessionCache.previous,
      session_reads_previous: this.sessionCache.readsPrevious ? 1 : 0,
      report: JSON.stringify(this.ownReport()),
      heartbeat_at: now,
    };
    await db
      .insertInto('instances')
      .values({ instance_id: this.runtime.instanceId, ...row })
      .onConflict((conflict) => conflict.column('instance_id').doUpdateSet(row))
      .execute();
    this.registered = true;
    await db
      .deleteFrom('instances')
      .where(
        'heartbeat_at',
        '<',
        sql<number>`${now} - ${EXPIRE_HEARTBEATS * this.timings.heartbeatIntervalMs}`,
      )
      .execute();
    this.lastSeen = Object.freeze((await this.live()).map((instance) => Object.freeze(instance)));
  }
}

function toInstance(row: InstancesTable): RegisteredInstance {
  const report = parseReport(row.report);
  return {
    instanceId: row.instance_id,
    startedAt: new Date(Number(row.started_at)).toISOString(),
    phase: row.phase,
    host: row.host,
    pid: row.pid,
    version: row.version,
    sessionBackend: row.session_backend,
    heartbeatAt: new Date(Number(row.heartbeat_at)).toISOString(),
    settingsVersion: report.settingsVersion ?? null,
    sessionCacheStatus: report.sessionCacheStatus ?? null,
    tasks: report.tasks ?? [],
    sessionCache: {
      backend: row.session_backend,
      version: row.session_cache_version,
      previous: row.session_previous_backend,
      readsPrevious: Number(row.session_reads_previous) === 1,
    },
  };
}

/** A row's report; `{}` (a replica of an older version) or unreadable JSON shows nothing. */
function parseReport(text: string | null | undefined): Partial<InstanceReport> {
  try {
    const report: unknown = JSON.parse(text ?? '{}');
    return typeof report === 'object' && report !== null ? (report as Partial<InstanceReport>) : {};
  } catch {
    return {};
  }
}
