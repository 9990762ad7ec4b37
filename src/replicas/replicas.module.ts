import { Global, Module } from '@nestjs/common';
import { DatabaseModule } from '../database/database.module.js';
import { InstanceRegistry } from './instance-registry.js';
import { DEFAULT_REPLICA_TIMINGS, REPLICA_TIMINGS } from './replica-timings.js';
import { RuntimeController } from './runtime.controller.js';
import { RuntimeReporter } from './runtime-reporter.js';

/**
 * The replicas of this deployment: the instance registry (every process's heartbeat in the
 * shared database, and what it serves) and `/api/runtime`, which shows this process and the
 * live replicas. Global: the session cache's handover and the split-brain guard read it.
 */
@Global()
@Module({
  imports: [DatabaseModule],
  controllers: [RuntimeController],
  providers: [
    InstanceRegistry,
    RuntimeReporter,
    { provide: REPLICA_TIMINGS, useValue: DEFAULT_REPLICA_TIMINGS },
  ],
  exports: [InstanceRegistry, RuntimeReporter, REPLICA_TIMINGS],
})
export class ReplicasModule {}
