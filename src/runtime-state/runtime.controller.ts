import { Controller, Get } from '@nestjs/common';
import { Roles } from '../auth/decorators.js';
import {
  type ListenerFailure,
  type Phase,
  RuntimeStateService,
  type SessionCacheStatus,
} from './runtime-state.service.js';
import { TaskSupervisor, type TaskStatus } from './task-supervisor.js';

export interface InstanceSummary {
  readonly instanceId: string;
  readonly startedAt: string;
  readonly phase: Phase;
}

/** `GET /api/runtime` (../shared/API.md, "Runtime state"), plus `listenerFailures`. */
export interface RuntimeReport extends InstanceSummary {
  readonly sessionCache: SessionCacheStatus;
  readonly tasks: TaskStatus[];
  /** Live replicas. Until the scale-out work adds a registry, only this one. */
  readonly instances: InstanceSummary[];
  readonly listenerFailures: readonly ListenerFailure[];
}

@Controller('api/runtime')
@Roles('admin')
export class RuntimeController {
  constructor(
    private readonly runtime: RuntimeStateService,
    private readonly supervisor: TaskSupervisor,
  ) {}

  @Get()
  report(): RuntimeReport {
    const self: InstanceSummary = {
      instanceId: this.runtime.instanceId,
      startedAt: this.runtime.startedAt.toISOString(),
      phase: this.runtime.phase,
    };
    return {
      ...self,
      sessionCache: this.runtime.sessionCacheStatus,
      tasks: this.supervisor.statuses(),
      instances: [self],
      listenerFailures: this.runtime.listenerFailures,
    };
  }
}
