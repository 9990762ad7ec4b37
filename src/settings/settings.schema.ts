import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ENVIRONMENT_VARIABLES } from '../config/environment.js';
import {
  IsIn,
  IsInt,
  IsObject,
  IsString,
  Length,
  Max,
  Min,
  ValidateNested,
  type ValidationArguments,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
  Validate,
} from 'class-validator';

export const SESSION_CACHE_BACKENDS = ['memory', 'database', 'redis'] as const;
export type SessionCacheBackendName = (typeof SESSION_CACHE_BACKENDS)[number];

export class SessionCacheSettings {
  // The default in force comes from the environment (settings-values.ts, environmentDefaults).
  @ApiProperty({
    enum: SESSION_CACHE_BACKENDS,
    enumName: 'SessionCacheBackend',
    description:
      'Default from the environment: `redis` when REDIS_URL is set, else `database` when DATABASE_URL is PostgreSQL, else `memory`.',
  })
  @IsIn(SESSION_CACHE_BACKENDS, { message: 'backend must be one of memory, database, redis' })
  backend: SessionCacheBackendName = 'memory';
}

@ValidatorConstraint({ name: 'idleWithinAbsolute' })
class IdleWithinAbsolute implements ValidatorConstraintInterface {
  validate(idle: unknown, args: ValidationArguments): boolean {
    const absolute = (args.object as SessionSettings).absoluteTimeoutSeconds;
    return typeof idle !== 'number' || typeof absolute !== 'number' || idle <= absolute;
  }
  defaultMessage(): string {
    return 'idleTimeoutSeconds must not exceed absoluteTimeoutSeconds';
  }
}

const ONE_YEAR_SECONDS = 366 * 24 * 3600;

export class SessionSettings {
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    maximum: ONE_YEAR_SECONDS,
    default: 1800,
    description: 'At most absoluteTimeoutSeconds.',
  })
  @IsInt({ message: 'idleTimeoutSeconds must be an integer number of seconds' })
  @Min(1, { message: 'idleTimeoutSeconds must be at least 1' })
  @Max(ONE_YEAR_SECONDS, { message: `idleTimeoutSeconds must be at most ${ONE_YEAR_SECONDS}` })
  @Validate(IdleWithinAbsolute)
  idleTimeoutSeconds = 1800;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: ONE_YEAR_SECONDS, default: 604800 })
  @IsInt({ message: 'absoluteTimeoutSeconds must be an integer number of seconds' })
  @Min(1, { message: 'absoluteTimeoutSeconds must be at least 1' })
  @Max(ONE_YEAR_SECONDS, { message: `absoluteTimeoutSeconds must be at most ${ONE_YEAR_SECONDS}` })
  absoluteTimeoutSeconds = 604800;
}

export class AuthSettings {
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    maximum: 10000,
    default: 10,
    description: 'Failed sign-ins allowed per 15 minutes, per username and per address.',
  })
  @IsInt({ message: 'loginMaxAttempts must be an integer' })
  @Min(1, { message: 'loginMaxAttempts must be at least 1' })
  @Max(10000, { message: 'loginMaxAttempts must be at most 10000' })
  loginMaxAttempts = 10;
}

/**
 * The runtime settings: what admins change while the server runs. The API validates a change
 * with these classes, and so does every load from the database: a value that reaches the
 * database has passed this one gate. Defaults are the field initialisers.
 */
export class RuntimeSettings {
  @ApiProperty({ type: String, minLength: 1, maxLength: 100, default: 'Keel' })
  @IsString({ message: 'siteName must be a string' })
  @Length(1, 100, { message: 'siteName must be 1 to 100 characters' })
  siteName = 'Keel';

  @ApiProperty({ type: () => SessionCacheSettings })
  @IsObject({ message: 'sessionCache must be an object' })
  @ValidateNested()
  @Type(() => SessionCacheSettings)
  sessionCache: SessionCacheSettings = new SessionCacheSettings();

  @ApiProperty({ type: () => SessionSettings })
  @IsObject({ message: 'session must be an object' })
  @ValidateNested()
  @Type(() => SessionSettings)
  session: SessionSettings = new SessionSettings();

  @ApiProperty({ type: () => AuthSettings })
  @IsObject({ message: 'auth must be an object' })
  @ValidateNested()
  @Type(() => AuthSettings)
  auth: AuthSettings = new AuthSettings();
}

/** The plain-JSON form of the settings, as stored, compared and returned by the API. */
export interface RuntimeSettingsValues {
  siteName: string;
  sessionCache: { backend: SessionCacheBackendName };
  session: { idleTimeoutSeconds: number; absoluteTimeoutSeconds: number };
  auth: { loginMaxAttempts: number };
}

/**
 * Names that belong to the environment. They are read once at boot and never change at
 * runtime; a patch naming one is told so, not just "unknown key".
 */
export const BOOTSTRAP_KEYS = new Set(
  ENVIRONMENT_VARIABLES.flatMap((name) => [
    name,
    name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
  ]),
);

/** Keys whose values history and logs mask (none today; a future secret setting is covered). */
export function isSecretKey(key: string): boolean {
  return /secret|password|token/i.test(key);
}
