import { Global, Module } from '@nestjs/common';
import { TaskSupervisor } from './task-supervisor.js';

/** The supervisor of background tasks: global, so any feature registers its own. */
@Global()
@Module({ providers: [TaskSupervisor], exports: [TaskSupervisor] })
export class TasksModule {}
