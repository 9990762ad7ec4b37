import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';

/** Handed to a task's `run`. */
export interface TaskContext {
  /**
   * Aborted when the task is stopped (app shutdown) or a periodic run passes its deadline: stop
   * work and return. Pass it on to whatever waits (`untilAborted`, a fetch...).
   */
  readonly signal: AbortSignal;
  /**
   * "Working again" (a subscriber that subscribed): resets the backoff, so the next crash is
   * retried after the initial delay. A periodic task's finished run counts as one.
   */
  reportProgress(): void;
}

export interface RestartBudget {
  /** Crashes tolerated (each followed by a restart) within `windowMs`; one more exhausts it. */
  readonly maxCrashes: number;
  readonly windowMs: number;
}

export interface Backoff {
  /** Delay before the first restart; doubled after each further crash... */
  readonly initialMs: number;
  /** ...up to this. A successful run (or reported progress) resets it. */
  readonly maxMs: number;
}

interface TaskOptions {
  /** Unique; shown in `/api/runtime` and, for critical tasks, in `/health/live`. */
  readonly name: string;
  /**
   * Critical: the process is no use without this task, so exhausting the restart budget marks
   * the process broken (liveness 503, Kubernetes restarts the pod). Non-critical tasks keep
   * being restarted at the capped backoff and never affect liveness.
   */
  readonly critical: boolean;
  readonly restartBudget?: RestartBudget;
  readonly backoff?: Backoff;
}

export interface PeriodicTaskOptions extends TaskOptions {
  /** Pause between the end of one run and the start of the next. */
  readonly intervalMs: number;
  /**
   * How long one run may take. Past it the run's `signal` aborts and the run counts as a crash
   * (logged, backoff, restart) whether or not it has returned: a hung query can't hold the task
   * forever. The next run may then start while the abandoned one is still settling, so a task
   * with a deadline must tolerate that (serialized or idempotent work). `null`: no deadline, for
   * long work that bounds its own waits (a swap, a handover); every registration says which.
   */
  readonly timeoutMs: number | null;
  /** One unit of work. A throw, a rejection or a run past its deadline is a crash. */
  run(context: TaskContext): Promise<void>;
}

export interface LongLivedTaskOptions extends TaskOptions {
  /** Runs until `signal` aborts. Throwing, rejecting or returning early is a crash. */
  run(context: TaskContext): Promise<void>;
}

export type TaskState =
  /** Registered; starts when the instance is ready (after every bootstrap hook). */
  | 'pending'
  | 'running'
  /** Crashed (or a run passed its deadline); waiting for its backoff before the next restart. */
  | 'backing-off'
  /** A critical task that exhausted its restart budget: not restarted, the process is broken. */
  | 'failed'
  | 'stopped';

/** One entry of `/api/runtime`'s `tasks`: a snapshot, never updated after it is made. */
export interface TaskStatus {
  readonly name: string;
  readonly critical: boolean;
  readonly state: TaskState;
  /** Restarts after crashes since the process started. */
  readonly restarts: number;
  readonly lastError: { readonly message: string; readonly at: string } | null;
}

export interface SupervisedTaskHandle {
  /** Stops the task (aborting its signal) and forgets it. */
  stop(): Promise<void>;
}

export const DEFAULT_RESTART_BUDGET: RestartBudget = Object.freeze({
  maxCrashes: 5,
  windowMs: 5 * 60_000,
});
export const DEFAULT_BACKOFF: Backoff = Object.freeze({ initialMs: 1000, maxMs: 60_000 });
/** How long shutdown waits for a task that ignores its abort signal. */
const STOP_WAIT_MS = 2000;

/**
 * Runs other modules' background work (the session sweeper, a Redis subscriber...) so that
 * nothing a task does can crash the process: every run is wrapped, a crash is logged with its
 * error, counted and restarted with exponential backoff. Register in `onModuleInit` or
 * `onApplicationBootstrap`; tasks start when the instance is ready (after migrations), or at
 * once when registered later, and stop when the app closes.
 */
@Injectable()
export class TaskSupervisor implements OnModuleDestroy {
  private readonly logger = new Logger(TaskSupervisor.name);
  private readonly tasks = new Map<string, SupervisedTask>();
  private started = false;
  private stopped = false;

  constructor(private readonly runtime: RuntimeStateService) {
    runtime.onReady(() => this.startAll());
  }

  registerPeriodic(options: PeriodicTaskOptions): SupervisedTaskHandle {
    if (!(options.intervalMs > 0)) {
      throw new Error(`Task "${options.name}": intervalMs must be positive`);
    }
    if (options.timeoutMs !== null && !(options.timeoutMs > 0)) {
      throw new Error(`Task "${options.name}": timeoutMs must be positive or null`);
    }
    return this.add(new SupervisedTask('periodic', options, this.runtime, this.logger));
  }

  registerLongLived(options: LongLivedTaskOptions): SupervisedTaskHandle {
    return this.add(new SupervisedTask('long-lived', options, this.runtime, this.logger));
  }

  /** Every task's current status, in registration order. */
  statuses(): TaskStatus[] {
    return [...this.tasks.values()].map((task) => task.status());
  }

  /** Stops every task; idempotent. Graceful shutdown calls it before closing connections. */
  async stopAll(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.tasks.values()].map((task) => task.stop()));
  }

  /**
   * The earliest shutdown hook, so tasks stop before any module closes a client in its
   * `onApplicationShutdown` (the database does). Modules that close clients earlier, in
   * `onModuleDestroy`, should stop their own task first through the handle `register*` returned.
   */
  async onModuleDestroy(): Promise<void> {
    await this.stopAll();
  }

  private add(task: SupervisedTask): SupervisedTaskHandle {
    if (this.tasks.has(task.name)) throw new Error(`A task named "${task.name}" already exists`);
    if (this.stopped) throw new Error(`Task "${task.name}" registered after shutdown began`);
    this.tasks.set(task.name, task);
    if (this.started) task.start();
    return {
      stop: async () => {
        await task.stop();
        if (this.tasks.get(task.name) === task) this.tasks.delete(task.name);
      },
    };
  }

  private startAll(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const task of this.tasks.values()) task.start();
  }
}

type Kind = 'periodic' | 'long-lived';

/** One task's supervision loop: run, and on a crash back off, count and restart. */
class SupervisedTask {
  readonly name: string;
  private readonly critical: boolean;
  private readonly budget: RestartBudget;
  private readonly backoff: Backoff;
  private readonly timeoutMs: number | null;
  private state: TaskState = 'pending';
  private restarts = 0;
  private lastError: TaskStatus['lastError'] = null;
  private crashTimes: number[] = [];
  private nextBackoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  /** A run given up on at its deadline that has not returned yet; settles when it does. */
  private abandoned: Promise<void> | undefined;
  /** Counts runs, so that an abandoned run's calls are told from the current one's. */
  private generation = 0;
  private readonly abort = new AbortController();

  constructor(
    private readonly kind: Kind,
    private readonly options: PeriodicTaskOptions | LongLivedTaskOptions,
    private readonly runtime: RuntimeStateService,
    private readonly logger: Logger,
  ) {
    this.name = options.name;
    this.critical = options.critical;
    this.budget = options.restartBudget ?? DEFAULT_RESTART_BUDGET;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.nextBackoffMs = this.backoff.initialMs;
    this.timeoutMs = kind === 'periodic' ? (options as PeriodicTaskOptions).timeoutMs : null;
  }

  start(): void {
    if (this.state !== 'pending') return;
    this.runOnce();
  }

  status(): TaskStatus {
    return Object.freeze({
      name: this.name,
      critical: this.critical,
      state: this.state,
      restarts: this.restarts,
      lastError: this.lastError,
    });
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.abort.abort();
    // A run abandoned at its deadline may still be at work: the app closes its connections
    // next, so it is waited for as a running one is.
    const running = [this.current, this.abandoned].filter((run) => run !== undefined);
    if (running.length === 0) return;
    let waited: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      waited = setTimeout(() => {
        this.logger.warn(`Task "${this.name}" ignored its abort signal; no longer waiting for it`);
        resolve();
      }, STOP_WAIT_MS);
    });
    await Promise.race([Promise.all(running), gaveUp]);
    clearTimeout(waited);
  }

  private runOnce(): void {
    this.timer = undefined;
    if (this.state === 'stopped') return;
    if (this.abandoned) {
      // The run given up on at its deadline has still not returned: another one would stack on
      // whatever holds it (a pool connection, a lock). This attempt counts as a crash instead.
      this.crashed(
        new Error(
          `its previous run, aborted at its ${this.timeoutMs} ms deadline, has still not returned`,
        ),
      );
      return;
    }
    this.state = 'running';
    const generation = ++this.generation;
    const run = new RunSignal(this.abort.signal, this.timeoutMs);
    const context: TaskContext = {
      signal: run.signal,
      // A run abandoned at its deadline no longer speaks for the task.
      reportProgress: () => {
        if (generation === this.generation && !run.timedOut) this.progressed();
      },
    };
    // Promise.resolve().then(...) turns a synchronous throw into a rejection, and the race's
    // handlers are attached at once: nothing the task does can escape as an unhandled rejection,
    // not even an abandoned run that rejects later.
    const work = Promise.resolve().then(() => this.options.run(context));
    const bounded = run.deadline ? Promise.race([work, run.deadline]) : work;
    this.current = bounded.then(
      () => {
        run.dispose();
        this.finished();
      },
      (error: unknown) => {
        run.dispose();
        if (run.timedOut) {
          const abandoned: Promise<void> = work
            .then(
              () => undefined,
              () => undefined,
            )
            .finally(() => {
              if (this.abandoned === abandoned) this.abandoned = undefined;
            });
          this.abandoned = abandoned;
        }
        this.crashed(error);
      },
    );
  }

  private finished(): void {
    this.current = undefined;
    if (this.state === 'stopped') return;
    if (this.kind === 'long-lived') {
      this.crashed(new Error('returned while it should keep running'));
      return;
    }
    this.progressed();
    this.schedule((this.options as PeriodicTaskOptions).intervalMs);
  }

  private progressed(): void {
    this.nextBackoffMs = this.backoff.initialMs;
  }

  private crashed(error: unknown): void {
    this.current = undefined;
    const message = error instanceof Error ? error.message : String(error);
    const stack = error instanceof Error ? error.stack : undefined;
    if (this.state === 'stopped') {
      // Aborting a task commonly makes it throw; that is its way of stopping, not a crash.
      this.logger.debug(`Task "${this.name}" ended during shutdown: ${message}`);
      return;
    }
    const now = Date.now();
    this.lastError = Object.freeze({ message, at: new Date(now).toISOString() });
    this.crashTimes = [...this.crashTimes, now].filter((at) => now - at < this.budget.windowMs);
    const crashes = this.crashTimes.length;
    const overBudget = crashes > this.budget.maxCrashes;
    const window = `${this.budget.windowMs / 1000} s`;

    if (overBudget && this.critical) {
      this.state = 'failed';
      this.logger.error(
        `Critical task "${this.name}" crashed ${crashes} times within ${window} (budget ${this.budget.maxCrashes}); not restarting it: ${message}`,
        stack,
      );
      this.runtime.markBroken(
        `critical task "${this.name}" crashed ${crashes} times within ${window}: ${message}`,
      );
      return;
    }
    // The first crash in a quiet window starts the backoff over, even for a task that never
    // reports progress.
    if (crashes === 1) this.nextBackoffMs = this.backoff.initialMs;
    const delayMs = overBudget ? this.backoff.maxMs : this.nextBackoffMs;
    this.nextBackoffMs = Math.min(this.nextBackoffMs * 2, this.backoff.maxMs);
    this.logger.error(
      `Task "${this.name}" crashed (${crashes} within ${window}); restarting in ${delayMs} ms: ${message}`,
      stack,
    );
    this.state = 'backing-off';
    this.schedule(delayMs, () => {
      this.restarts += 1;
    });
  }

  private schedule(delayMs: number, beforeRun?: () => void): void {
    if (this.state === 'stopped') return;
    this.timer = setTimeout(() => {
      beforeRun?.();
      this.runOnce();
    }, delayMs);
    // A supervised timer must never be what keeps the process alive (or a test's Jest worker).
    this.timer.unref();
  }
}

/**
 * One run's signal: aborted when the task stops or, past `timeoutMs`, by the deadline (then
 * `deadline` rejects). One controller per run, whose listener on the task's signal is removed
 * when the run ends: AbortSignal.any would keep every run's signal attached to the task's for
 * the life of the process on Node 20 (nodejs/node#55351).
 */
class RunSignal {
  readonly deadline: Promise<never> | undefined;
  timedOut = false;
  private readonly controller = new AbortController();
  private readonly onStop = () => this.controller.abort(this.stop.reason);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stop: AbortSignal,
    timeoutMs: number | null,
  ) {
    if (stop.aborted) this.controller.abort(stop.reason);
    else stop.addEventListener('abort', this.onStop, { once: true });
    if (timeoutMs !== null) {
      this.deadline = new Promise<never>((_, reject) => {
        this.timer = setTimeout(() => {
          const error = new Error(`run passed its deadline of ${timeoutMs} ms and was aborted`);
          this.timedOut = true;
          this.controller.abort(error);
          reject(error);
        }, timeoutMs);
      });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.stop.removeEventListener('abort', this.onStop);
  }
}
