import { Global, Module } from '@nestjs/common';
import { DrainingConnections } from './draining-connections.js';
import { GracefulShutdown } from './graceful-shutdown.js';
import { ProcessCrashGuard } from './process-crash-guard.js';
import { ReadinessRegistry } from './readiness-registry.js';
import { RuntimeStateService } from './runtime-state.service.js';

/**
 * This process's life and what the probes read: the instance and its phase, the readiness
 * checks other modules contribute, crash handling and graceful shutdown. Global, so any feature
 * injects `RuntimeStateService` or `ReadinessRegistry` without importing it; each is one
 * singleton per app, never reached through process-wide state. (The background tasks are
 * TasksModule's; the replicas, ReplicasModule's.)
 */
@Global()
@Module({
  providers: [
    RuntimeStateService,
    ReadinessRegistry,
    ProcessCrashGuard,
    GracefulShutdown,
    DrainingConnections,
  ],
  // What features use; the process wiring (crash guard, shutdown) is reached by serve().
  exports: [RuntimeStateService, ReadinessRegistry],
})
export class RuntimeStateModule {}
