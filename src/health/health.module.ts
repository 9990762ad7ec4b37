import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DatabaseModule } from '../database/database.module.js';
import { DatabaseReadiness } from './database-readiness.js';
import { HealthController } from './health.controller.js';
import { HealthProbes } from './health-probes.js';

@Module({
  // terminus' own logger would write a multi-line error on every failing poll; HealthProbes
  // logs a failing probe once instead.
  imports: [TerminusModule.forRoot({ logger: false }), DatabaseModule],
  controllers: [HealthController],
  providers: [HealthProbes, DatabaseReadiness],
  exports: [HealthProbes],
})
export class HealthModule {}
