import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
  validateSync,
  type ValidationError,
} from 'class-validator';
import { SCRYPT_HASH_PATTERN } from '../common/scrypt-hash.js';
import { USERNAME_PATTERN } from '../common/username.js';

/** Variables whose value must never be echoed back in an error message or a log line. */
const SECRET_VARIABLES = new Set([
  'DATABASE_URL',
  'REDIS_URL',
  'SESSION_SECRET',
  'SETUP_TOKEN',
  'KEEL_ADMIN_PASSWORD',
  'KEEL_ADMIN_PASSWORD_HASH',
  'METRICS_TOKEN',
]);

/** The variables that give the unattended admin's password: at most one may be set. */
const ADMIN_PASSWORD_VARIABLES = [
  'KEEL_ADMIN_PASSWORD',
  'KEEL_ADMIN_PASSWORD_FILE',
  'KEEL_ADMIN_PASSWORD_HASH',
] as const;

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
const trimmed = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim() : value;

/** A string that names one express `trust proxy` value: a boolean, a hop count or a list of addresses. */
const TRUST_PROXY_PATTERN =
  /^(true|false|\d+|((loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)(\s*,\s*(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?))*))$/;

/**
 * The bootstrap settings: read from the environment once at boot, validated here, read-only after.
 * Runtime settings (changed by admins while the server runs) live in src/settings, never here.
 */
export class Environment {
  @IsIn(['development', 'production', 'test'], {
    message: 'NODE_ENV must be one of development, production, test',
  })
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Transform(toInt)
  @IsInt({ message: 'PORT must be an integer from 0 to 65535' })
  @Min(0, { message: 'PORT must be an integer from 0 to 65535' })
  @Max(65535, { message: 'PORT must be an integer from 0 to 65535' })
  PORT = 3000;

  @Transform(trimmed)
  @IsString()
  @MinLength(1, { message: 'HOST must be a host name or address to listen on' })
  HOST = '0.0.0.0';

  @Transform(trimmed)
  @IsString()
  @MinLength(1, { message: 'DATA_DIR must be a directory path' })
  DATA_DIR = './data';

  @IsOptional()
  @Transform(trimmed)
  @Matches(/^(postgres|postgresql):\/\/\S+$|^sqlite:\S+$/, {
    message:
      'DATABASE_URL must be a postgres://user@host:port/db URL or sqlite:<file path> (unset: a SQLite file in DATA_DIR)',
  })
  DATABASE_URL?: string;

  @IsOptional()
  @Transform(trimmed)
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @Transform(trimmed)
  @Matches(/^[A-Za-z0-9:_.-]{1,64}$/, {
    message: 'REDIS_PREFIX must be 1 to 64 characters of letters, digits, ":", "_", "." or "-"',
  })
  REDIS_PREFIX = 'keel:';

  /**
   * Where sessions live unless an admin chose otherwise at runtime (`sessionCache.backend`).
   * Unset: `redis` when REDIS_URL is set, else `database` on PostgreSQL, else `memory`.
   */
  @IsOptional()
  @Transform(trimmed)
  @IsIn(['memory', 'database', 'redis'], {
    message: 'SESSION_CACHE_BACKEND must be one of memory, database, redis',
  })
  SESSION_CACHE_BACKEND?: 'memory' | 'database' | 'redis';

  @ValidateIf(
    (env: Environment) => env.NODE_ENV === 'production' || env.SESSION_SECRET !== undefined,
  )
  @IsString({ message: 'SESSION_SECRET is required when NODE_ENV=production' })
  @Matches(/^[^,\s]{32,}(\s*,\s*[^,\s]{32,})*$/, {
    message:
      'SESSION_SECRET must be one or more comma-separated secrets of at least 32 characters each (newest first)',
  })
  SESSION_SECRET?: string;

  @IsOptional()
  @Transform(trimmed)
  @Matches(TRUST_PROXY_PATTERN, {
    message:
      'TRUST_PROXY must be true, false, a number of proxy hops, or a comma-separated list of addresses/CIDRs (loopback, linklocal, uniquelocal allowed)',
  })
  TRUST_PROXY?: string;

  @Transform(trimmed)
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
  })
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' = 'info';

  @IsOptional()
  @Transform(trimmed)
  @Matches(/^[A-Za-z0-9_-]{24,256}$/, {
    message: 'SETUP_TOKEN must be 24 to 256 characters of letters, digits, "-" or "_"',
  })
  SETUP_TOKEN?: string;

  @Transform(toInt)
  @IsInt({
    message: 'SHUTDOWN_DRAIN_MS must be an integer number of milliseconds from 0 to 600000',
  })
  @Min(0, {
    message: 'SHUTDOWN_DRAIN_MS must be an integer number of milliseconds from 0 to 600000',
  })
  @Max(600000, {
    message: 'SHUTDOWN_DRAIN_MS must be an integer number of milliseconds from 0 to 600000',
  })
  SHUTDOWN_DRAIN_MS = 5000;

  @Transform(toInt)
  @IsInt({
    message: 'SHUTDOWN_GRACE_MS must be an integer number of milliseconds from 0 to 600000',
  })
  @Min(0, {
    message: 'SHUTDOWN_GRACE_MS must be an integer number of milliseconds from 0 to 600000',
  })
  @Max(600000, {
    message: 'SHUTDOWN_GRACE_MS must be an integer number of milliseconds from 0 to 600000',
  })
  SHUTDOWN_GRACE_MS = 10000;

  @IsOptional()
  @Transform(trimmed)
  // The same rule as usernames created through the API, so unattended setup accepts no other.
  @Matches(USERNAME_PATTERN, {
    message:
      'KEEL_ADMIN_USERNAME must be 3 to 64 characters of letters, digits, "_", ".", "@" or "-"',
  })
  KEEL_ADMIN_USERNAME?: string;

  @ValidateIf((env: Environment) => env.KEEL_ADMIN_PASSWORD !== undefined)
  @IsString()
  @MinLength(12, { message: 'KEEL_ADMIN_PASSWORD must be 12 to 256 characters' })
  @MaxLength(256, { message: 'KEEL_ADMIN_PASSWORD must be 12 to 256 characters' })
  KEEL_ADMIN_PASSWORD?: string;

  @IsOptional()
  @Transform(trimmed)
  @IsString()
  @MinLength(1, { message: 'KEEL_ADMIN_PASSWORD_FILE must be a file path' })
  KEEL_ADMIN_PASSWORD_FILE?: string;

  @IsOptional()
  @Transform(trimmed)
  // The shape only; whether its parameters are strong enough is checked where it is used
  // (src/setup/unattended-admin.ts).
  @Matches(SCRYPT_HASH_PATTERN, {
    message:
      'KEEL_ADMIN_PASSWORD_HASH must be a scrypt hash as `npm run hash-password` prints it ($scrypt$ln=17,r=8,p=1$<salt>$<key>)',
  })
  KEEL_ADMIN_PASSWORD_HASH?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt({ message: 'METRICS_PORT must be an integer from 1 to 65535' })
  @Min(1, { message: 'METRICS_PORT must be an integer from 1 to 65535' })
  @Max(65535, { message: 'METRICS_PORT must be an integer from 1 to 65535' })
  METRICS_PORT?: number;

  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'METRICS_TOKEN must be at least 16 characters' })
  METRICS_TOKEN?: string;
}

/** Thrown when the environment is invalid; its message is one line that names each bad variable. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

/** Every bootstrap variable, in the order `.env.example` documents them. */
export const ENVIRONMENT_VARIABLES = [
  'NODE_ENV',
  'PORT',
  'HOST',
  'DATA_DIR',
  'DATABASE_URL',
  'REDIS_URL',
  'REDIS_PREFIX',
  'SESSION_CACHE_BACKEND',
  'SESSION_SECRET',
  'TRUST_PROXY',
  'LOG_LEVEL',
  'SETUP_TOKEN',
  'SHUTDOWN_DRAIN_MS',
  'SHUTDOWN_GRACE_MS',
  'KEEL_ADMIN_USERNAME',
  'KEEL_ADMIN_PASSWORD',
  'KEEL_ADMIN_PASSWORD_FILE',
  'KEEL_ADMIN_PASSWORD_HASH',
  'METRICS_PORT',
  'METRICS_TOKEN',
] as const satisfies readonly (keyof Environment)[];

function describe(error: ValidationError, raw: Record<string, string | undefined>): string {
  const variable = error.property;
  const messages = Object.values(error.constraints ?? {});
  // class-validator reports every failed constraint; the first is the one declared last,
  // which is the most specific message we wrote for the variable.
  const message = messages[messages.length - 1] ?? `${variable} is invalid`;
  if (SECRET_VARIABLES.has(variable) || raw[variable] === undefined) return message;
  return `${message} (got ${JSON.stringify(raw[variable])})`;
}

/**
 * Parses and validates the bootstrap settings. Empty strings count as unset, so an `.env`
 * line `REDIS_URL=` means "no Redis", as operators expect.
 */
export function validateEnvironment(raw: Record<string, string | undefined>): Environment {
  const present: Record<string, string> = {};
  for (const name of ENVIRONMENT_VARIABLES) {
    const value = raw[name];
    if (value !== undefined && value !== '') present[name] = value;
  }
  const env = plainToInstance(Environment, present, { exposeDefaultValues: true });
  const errors = validateSync(env, { whitelist: false, forbidUnknownValues: false });
  const problems = errors.map((error) => describe(error, present));

  const passwordVariables = ADMIN_PASSWORD_VARIABLES.filter((name) => env[name] !== undefined);
  if (passwordVariables.length > 1) {
    problems.push(`${passwordVariables.join(' and ')} are exclusive: set one of them`);
  }
  if (env.KEEL_ADMIN_USERNAME && passwordVariables.length === 0) {
    problems.push(
      'KEEL_ADMIN_USERNAME needs KEEL_ADMIN_PASSWORD, KEEL_ADMIN_PASSWORD_FILE or KEEL_ADMIN_PASSWORD_HASH',
    );
  }
  if (!env.KEEL_ADMIN_USERNAME && passwordVariables.length > 0) {
    const verb = passwordVariables.length > 1 ? 'need' : 'needs';
    problems.push(`${passwordVariables.join(' and ')} ${verb} KEEL_ADMIN_USERNAME`);
  }
  if (env.SESSION_CACHE_BACKEND === 'redis' && !env.REDIS_URL) {
    problems.push('SESSION_CACHE_BACKEND=redis needs REDIS_URL');
  }
  if (problems.length > 0) {
    throw new EnvironmentError(`Invalid environment: ${problems.join('; ')}`);
  }
  return env;
}
