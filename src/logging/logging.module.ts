import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { AppConfig } from '../config/app-config.js';
import { KeelLogger } from './keel-logger.js';
import { RequestLog } from './request-log.js';
import { createRootLogger, ROOT_LOGGER } from './root-logger.js';

export interface LoggingOptions {
  /** Where log lines go; stdout when unset. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

/**
 * Structured JSON logs: Nest's logger (`KeelLogger`, installed by configureApp) and one line
 * per request (`RequestLog`), both over one pino instance that belongs to this app.
 */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(options: LoggingOptions = {}): DynamicModule {
    return {
      module: LoggingModule,
      providers: [
        {
          provide: ROOT_LOGGER,
          inject: [AppConfig],
          useFactory: (config: AppConfig) => createRootLogger(config, options.destination),
        },
        KeelLogger,
        RequestLog,
      ],
      exports: [ROOT_LOGGER, KeelLogger],
    };
  }
}
