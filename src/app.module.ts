import { type DynamicModule, Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { KeelConfigModule } from './config/config.module.js';
import { AuthModule } from './auth/auth.module.js';
import { ConsoleModule } from './console/console.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { HttpModule } from './http/http.module.js';
import { LoggingModule, type LoggingOptions } from './logging/logging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ReplicasModule } from './replicas/replicas.module.js';
import { RuntimeStateModule } from './runtime-state/runtime-state.module.js';
import { ScaleOutModule } from './scale-out/scale-out.module.js';
import { SessionCacheModule } from './session-cache/session-cache.module.js';
import { SettingsModule } from './settings/settings.module.js';
import { SetupModule } from './setup/setup.module.js';
import { TasksModule } from './tasks/tasks.module.js';
import { UsersModule } from './users/users.module.js';

export interface AppOptions {
  /** Bootstrap settings; the process environment (and `.env`) when unset. */
  env?: Record<string, string | undefined>;
  logging?: LoggingOptions;
}

@Module({})
export class AppModule {
  static forRoot(options: AppOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        KeelConfigModule.forRoot(options.env),
        LoggingModule.forRoot(options.logging),
        HttpModule,
        RuntimeStateModule,
        TasksModule,
        EventEmitterModule.forRoot({ wildcard: false }),
        DatabaseModule,
        ReplicasModule,
        SettingsModule,
        SessionCacheModule,
        ScaleOutModule,
        UsersModule,
        // Before AuthModule: global guards run in module order, and the setup gate goes first.
        SetupModule,
        AuthModule,
        HealthModule,
        MetricsModule,
        ConsoleModule,
      ],
    };
  }
}
