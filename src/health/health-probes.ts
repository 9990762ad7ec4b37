import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import {
  type HealthCheckResult,
  HealthCheckService,
  type HealthIndicatorFunction,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { ReadinessRegistry } from '../runtime-state/readiness-registry.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { TaskSupervisor } from '../tasks/task-supervisor.js';

export type Probe = 'live' | 'ready' | 'startup';

/** The check a critical task contributes to liveness: `task:<name>`. */
export function taskCheckName(taskName: string): string {
  return `task:${taskName}`;
}

/**
 * The three Kubernetes probes, as terminus results (`{status, info, error, details}`), one named
 * check each:
 *
 * - live: `process` (down once the process marked itself broken) and `task:<name>` for every
 *   critical task (down once it exhausted its restart budget). Never the database or Redis: a
 *   dependency outage must not make Kubernetes restart every pod.
 * - ready: `phase` (down while starting or draining), then every check in `ReadinessRegistry`
 *   (`database`, and whatever other modules registered), each with its own timeout.
 * - startup: `bootstrap` (down until every `onApplicationBootstrap` hook finished).
 *
 * A failing probe is logged once when it starts failing (or fails differently) and once when it
 * recovers, never per poll.
 */
@Injectable()
export class HealthProbes {
  private readonly logger = new Logger(HealthProbes.name);
  private readonly lastFailure = new Map<Probe, string>();

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly runtime: RuntimeStateService,
    private readonly supervisor: TaskSupervisor,
    private readonly readiness: ReadinessRegistry,
  ) {}

  live(): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [
      () => {
        const broken = this.runtime.broken;
        const check = this.indicators.check('process');
        return broken ? check.down({ message: broken.reason, since: broken.since }) : check.up();
      },
    ];
    for (const task of this.supervisor.statuses()) {
      if (!task.critical) continue;
      checks.push(() => {
        const check = this.indicators.check(taskCheckName(task.name));
        const data = { state: task.state, restarts: task.restarts };
        return task.state === 'failed'
          ? check.down({
              ...data,
              message: `exhausted its restart budget: ${task.lastError?.message ?? 'unknown error'}`,
            })
          : check.up(data);
      });
    }
    return this.run('live', checks);
  }

  ready(): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [
      () => {
        const phase = this.runtime.phase;
        const check = this.indicators.check('phase');
        return phase === 'ready' ? check.up({ phase }) : check.down({ phase });
      },
    ];
    for (const { name, check, timeoutMs } of this.readiness.checks()) {
      checks.push(() =>
        this.indicators
          .check(name)
          .attempt(({ signal }) => check({ signal }))
          .withTimeout(timeoutMs),
      );
    }
    return this.run('ready', checks);
  }

  startup(): Promise<HealthCheckResult> {
    return this.run('startup', [
      () => {
        const check = this.indicators.check('bootstrap');
        return this.runtime.isBootstrapped ? check.up() : check.down({ phase: this.runtime.phase });
      },
    ]);
  }

  /** True when the probe should answer 200 (terminus: `ok`, or `degraded`, which still serves). */
  static passed(result: HealthCheckResult): boolean {
    return result.status === 'ok' || result.status === 'degraded';
  }

  private async run(probe: Probe, checks: HealthIndicatorFunction[]): Promise<HealthCheckResult> {
    let result: HealthCheckResult;
    try {
      result = await this.health.check(checks);
    } catch (error) {
      // terminus reports a failing check by throwing a 503 whose body is the result.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      result = error.getResponse() as HealthCheckResult;
    }
    this.logTransition(probe, result);
    return result;
  }

  private logTransition(probe: Probe, result: HealthCheckResult): void {
    const failing = HealthProbes.passed(result)
      ? ''
      : Object.entries(result.error ?? {})
          .map(([name, detail]) => {
            const message = (detail as { message?: unknown }).message;
            return typeof message === 'string' ? `${name} (${message})` : name;
          })
          .join(', ') || result.status;
    const previous = this.lastFailure.get(probe) ?? '';
    if (failing === previous) return;
    this.lastFailure.set(probe, failing);
    if (failing) this.logger.warn(`/health/${probe} failing: ${failing}`);
    else this.logger.log(`/health/${probe} passing again`);
  }
}
