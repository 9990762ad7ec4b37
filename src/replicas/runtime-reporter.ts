import { Injectable } from '@nestjs/common';
import { InstanceRegistry, type LiveInstance } from './instance-registry.js';
import type { InstanceSummary, RuntimeReport } from './runtime-report.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import { TaskSupervisor } from '../tasks/task-supervisor.js';

/**
 * Builds `GET /api/runtime`'s answer: this process as it is now, and every live replica as the
 * registry has it. The console's event stream sends the same report, so the two never differ.
 */
@Injectable()
export class RuntimeReporter {
  constructor(
    private readonly runtime: RuntimeStateService,
    private readonly supervisor: TaskSupervisor,
    private readonly registry: InstanceRegistry,
  ) {}

  async report(): Promise<RuntimeReport> {
    const self: InstanceSummary = {
      instanceId: this.runtime.instanceId,
      startedAt: this.runtime.startedAt.toISOString(),
      phase: this.runtime.phase,
    };
    return {
      ...self,
      sessionCache: this.runtime.sessionCacheStatus,
      tasks: this.supervisor.statuses(),
      instances: await this.instances(),
      listenerFailures: this.runtime.listenerFailures,
      invalidSettings: this.runtime.invalidSettings,
    };
  }

  /**
   * The registry's live replicas. This one is always listed, as it is now (its row may lag by a
   * heartbeat, or be missing before its first one); if the database cannot be read, the list
   * is the last one a heartbeat saw.
   */
  private async instances(): Promise<LiveInstance[]> {
    let live: readonly LiveInstance[];
    try {
      live = await this.registry.live();
    } catch {
      live = this.registry.lastSeenLive;
    }
    const self: LiveInstance = {
      instanceId: this.runtime.instanceId,
      startedAt: this.runtime.startedAt.toISOString(),
      phase: this.runtime.phase,
      host: this.registry.host,
      pid: this.registry.pid,
      version: this.registry.version,
      sessionBackend: this.runtime.sessionCacheStatus.backend,
      heartbeatAt:
        live.find((instance) => instance.instanceId === this.runtime.instanceId)?.heartbeatAt ??
        new Date().toISOString(),
      ...this.registry.ownReport(),
    };
    const others = live
      .filter((instance) => instance.instanceId !== self.instanceId)
      .map(publicInstance);
    return [self, ...others].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }
}

/** Only what the API shows (the registry keeps internal fields beside them). */
function publicInstance(instance: LiveInstance): LiveInstance {
  return {
    instanceId: instance.instanceId,
    startedAt: instance.startedAt,
    phase: instance.phase,
    host: instance.host,
    pid: instance.pid,
    version: instance.version,
    sessionBackend: instance.sessionBackend,
    heartbeatAt: instance.heartbeatAt,
    settingsVersion: instance.settingsVersion,
    sessionCacheStatus: instance.sessionCacheStatus,
    tasks: instance.tasks,
  };
}
