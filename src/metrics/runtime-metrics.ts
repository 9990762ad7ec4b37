import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Counter, Gauge } from 'prom-client';
import { InstanceRegistry } from '../replicas/instance-registry.js';
import { type Phase, RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { TaskSupervisor, type TaskState } from '../tasks/task-supervisor.js';
import { SettingsService } from '../settings/settings.service.js';
import { SetupService } from '../setup/setup.service.js';
import { MetricsRegistry } from './metrics-registry.js';

const PHASES: readonly Phase[] = ['starting', 'ready', 'draining'];
const TASK_STATES: readonly TaskState[] = [
  'pending',
  'running',
  'backing-off',
  'failed',
  'stopped',
];

/**
 * What the runtime state knows, read at scrape time from the snapshots its owners publish
 * (RuntimeStateService, TaskSupervisor, InstanceRegistry, SettingsService, SetupService):
 * nothing is pushed from their code, and a scrape costs a few reads per task.
 */
@Injectable()
export class RuntimeMetrics implements OnModuleInit {
  private readonly logger = new Logger(RuntimeMetrics.name);

  constructor(
    private readonly metrics: MetricsRegistry,
    runtime: RuntimeStateService,
    supervisor: TaskSupervisor,
    settings: SettingsService,
    instances: InstanceRegistry,
    private readonly moduleRef: ModuleRef,
  ) {
    const registers = [metrics.registry];
    new Gauge({
      name: 'keel_phase',
      help: 'The instance phase: 1 for the current one of starting, ready, draining; 0 for the others.',
      labelNames: ['phase'],
      registers,
      collect() {
        const current = runtime.phase;
        for (const phase of PHASES) this.set({ phase }, phase === current ? 1 : 0);
      },
    });
    new Gauge({
      name: 'keel_process_broken',
      help: '1 once the process marked itself broken (a critical task past its restart budget, an unhandled rejection): liveness fails.',
      registers,
      collect() {
        this.set(runtime.broken ? 1 : 0);
      },
    });
    new Gauge({
      name: 'keel_replicas_live',
      help: 'Live replicas (heartbeats in the shared database), this one included, as of its last heartbeat.',
      registers,
      collect() {
        // The registry's list as of the last heartbeat: no query per scrape. Before this
        // replica's first heartbeat it is not in it yet, but it is live.
        const seen = instances.lastSeenLive;
        const self = seen.some((instance) => instance.instanceId === runtime.instanceId);
        this.set(seen.length + (self ? 0 : 1));
      },
    });
    new Gauge({
      name: 'keel_settings_version',
      help: 'Version of the runtime settings in force on this replica.',
      registers,
      collect() {
        this.set(settings.current.version);
      },
    });
    new Gauge({
      name: 'keel_task_state',
      help: 'Each supervised task state: 1 for the current one, 0 for the others.',
      labelNames: ['task', 'state'],
      registers,
      collect() {
        // Reset, so a task that was removed disappears instead of keeping its last state.
        this.reset();
        for (const task of supervisor.statuses()) {
          for (const state of TASK_STATES) {
            this.set({ task: task.name, state }, task.state === state ? 1 : 0);
          }
        }
      },
    });
    new Counter({
      name: 'keel_task_restarts_total',
      help: 'Restarts of a supervised task after crashes.',
      labelNames: ['task'],
      registers,
      collect() {
        this.reset();
        for (const task of supervisor.statuses()) this.inc({ task: task.name }, task.restarts);
      },
    });
    new Counter({
      name: 'keel_task_crashes_total',
      help: 'Crashes (throws, rejections, early returns) of a supervised task.',
      labelNames: ['task'],
      registers,
      collect() {
        this.reset();
        for (const task of supervisor.statuses()) {
          // Every crash is followed by one restart after its backoff, except the last one of a
          // critical task past its budget (`failed`): a task waiting to restart or failed has
          // crashed once more than it restarted.
          const pending = task.state === 'backing-off' || task.state === 'failed' ? 1 : 0;
          this.inc({ task: task.name }, task.restarts + pending);
        }
      },
    });
  }

  /**
   * `keel_setup_completed`, from SetupService. The setup module keeps its service to itself
   * (no export), so it is looked up in the whole app rather than imported; an app built without
   * the setup module simply has no such gauge.
   */
  onModuleInit(): void {
    let setup: SetupService;
    try {
      setup = this.moduleRef.get(SetupService, { strict: false });
    } catch {
      this.logger.warn('No SetupService in this app: keel_setup_completed is not exported');
      return;
    }
    const logger = this.logger;
    new Gauge({
      name: 'keel_setup_completed',
      help: '1 once first-run setup is complete; 0 while /api answers 503 setup_required.',
      registers: [this.metrics.registry],
      async collect() {
        // Free once complete (the service remembers); until then one primary-key read.
        try {
          this.set((await setup.isComplete()) ? 1 : 0);
        } catch (error) {
          // The database is down: keep the last value rather than failing the whole scrape.
          logger.debug(`keel_setup_completed not updated: ${String(error)}`);
        }
      },
    });
  }
}
