import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { AppConfig } from './app-config.js';
import { DataDirectory } from './data-directory.js';
import { validateEnvironment } from './environment.js';

/**
 * The process environment, with a `.env` file in the working directory underneath it
 * (real environment variables win, as with dotenv).
 */
export function readProcessEnvironment(envFile = '.env'): Record<string, string | undefined> {
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseEnv(readFileSync(envFile, 'utf8')) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return { ...fromFile, ...process.env };
}

@Module({})
export class KeelConfigModule {
  /**
   * Validates `env` once, at module creation: a bad value throws `EnvironmentError` and the app
   * never starts. Tests pass their own `env` instead of touching `process.env`.
   */
  static forRoot(
    env: Record<string, string | undefined> = readProcessEnvironment(),
  ): DynamicModule {
    const validated = validateEnvironment(env);
    return {
      module: KeelConfigModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          ignoreEnvVars: true,
          skipProcessEnv: true,
          // The validated, typed values are what ConfigService serves.
          load: [() => ({ ...validated })],
        }),
      ],
      providers: [AppConfig, DataDirectory],
      exports: [AppConfig, DataDirectory],
    };
  }
}
