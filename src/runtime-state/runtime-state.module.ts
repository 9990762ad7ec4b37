import { Global, Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import { DrainingConnections } from './draining-connections.js';
import { GracefulShutdown } from './graceful-shutdown.js';
import { InstanceRegistry } from './instance-registry.js';
import { ProcessCrashGuard } from './process-crash-guard.js';
import { ReadinessRegistry } from './readiness-registry.js';
import { DEFAULT_REPLICA_TIMINGS, REPLICA_TIMINGS } from './replica-timings.js';
import { RuntimeController } from './runtime.controller.js';
import { RuntimeStateService } from './runtime-state.service.js';
import { TaskSupervisor } from './task-supervisor.js';

/**
 * Per-process runtime state: the instance and its phase, supervised background tasks, the
 * readiness checks other modules contribute, crash handling and graceful shutdown. Global, so
 * any feature injects `RuntimeStateService`, `TaskSupervisor` or `ReadinessRegistry` without
 * importing it; each is one singleton per app, never reached through process-wide state.
 * `InstanceRegistry` is the one piece shared between replicas: their heartbeats in the database.
 */
@Global()
@Module({
  imports: [DatabaseModule],
  controllers: [RuntimeController],
  providers: [
    InstanceRegistry,
    { provide: REPLICA_TIMINGS, useValue: DEFAULT_REPLICA_TIMINGS },
    RuntimeStateService,
    TaskSupervisor,
    ReadinessRegistry,
    ProcessCrashGuard,
    GracefulShutdown,
    DrainingConnections,
  ],
  // What features use; the process wiring (crash guard, shutdown) is reached by serve().
  exports: [
    RuntimeStateService,
    TaskSupervisor,
    ReadinessRegistry,
    InstanceRegistry,
    REPLICA_TIMINGS,
  ],
})
export class RuntimeStateModule {}
