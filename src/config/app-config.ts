import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { isAbsolute, resolve } from 'node:path';
import { ENVIRONMENT_VARIABLES, type Environment } from './environment.js';

export type DatabaseTarget =
  | { readonly dialect: 'sqlite'; readonly file: string }
  | { readonly dialect: 'postgres'; readonly url: string };

export type TrustProxy = boolean | number | string[];

/**
 * Typed, read-only access to the bootstrap settings. The only way code outside src/config
 * learns about the environment: nothing else reads `process.env`.
 */
@Injectable()
export class AppConfig {
  readonly nodeEnv: Environment['NODE_ENV'];
  readonly isProduction: boolean;
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly database: DatabaseTarget;
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  /** SESSION_CACHE_BACKEND: the session cache's default, when the environment names it. */
  readonly sessionCacheBackend: Environment['SESSION_CACHE_BACKEND'];
  /** Newest first: the first signs new cookies, all of them verify. Undefined: generate one. */
  readonly sessionSecrets: readonly string[] | undefined;
  readonly trustProxy: TrustProxy;
  readonly logLevel: Environment['LOG_LEVEL'];
  readonly setupToken: string | undefined;
  readonly shutdownDrainMs: number;
  readonly shutdownGraceMs: number;
  readonly unattendedAdmin:
    | {
        readonly username: string;
        readonly password?: string;
        readonly passwordFile?: string;
        /** A ready scrypt hash (KEEL_ADMIN_PASSWORD_HASH): start-up then hashes nothing. */
        readonly passwordHash?: string;
      }
    | undefined;
  readonly metricsPort: number | undefined;
  readonly metricsToken: string | undefined;

  constructor(config: ConfigService<Environment, true>) {
    const env = Object.fromEntries(
      ENVIRONMENT_VARIABLES.map((key) => [key, config.get(key, { infer: true })]),
    ) as unknown as Environment;
    this.nodeEnv = env.NODE_ENV;
    this.isProduction = env.NODE_ENV === 'production';
    this.port = env.PORT;
    this.host = env.HOST;
    this.dataDir = resolve(env.DATA_DIR);
    this.database = parseDatabaseUrl(env.DATABASE_URL, this.dataDir);
    this.redisUrl = env.REDIS_URL;
    this.redisPrefix = env.REDIS_PREFIX;
    this.sessionCacheBackend = env.SESSION_CACHE_BACKEND;
    this.sessionSecrets = env.SESSION_SECRET?.split(',').map((secret) => secret.trim());
    this.trustProxy = parseTrustProxy(env.TRUST_PROXY);
    this.logLevel = env.LOG_LEVEL;
    this.setupToken = env.SETUP_TOKEN;
    this.shutdownDrainMs = env.SHUTDOWN_DRAIN_MS;
    this.shutdownGraceMs = env.SHUTDOWN_GRACE_MS;
    this.unattendedAdmin = env.KEEL_ADMIN_USERNAME
      ? {
          username: env.KEEL_ADMIN_USERNAME,
          password: env.KEEL_ADMIN_PASSWORD,
          passwordFile: env.KEEL_ADMIN_PASSWORD_FILE,
          passwordHash: env.KEEL_ADMIN_PASSWORD_HASH,
        }
      : undefined;
    this.metricsPort = env.METRICS_PORT;
    this.metricsToken = env.METRICS_TOKEN;
    Object.freeze(this);
  }
}

function parseDatabaseUrl(url: string | undefined, dataDir: string): DatabaseTarget {
  if (!url) return { dialect: 'sqlite', file: resolve(dataDir, 'keel.sqlite') };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
    return { dialect: 'sqlite', file: isAbsolute(path) ? path : resolve(path) };
  }
  return { dialect: 'postgres', url };
}

function parseTrustProxy(value: string | undefined): TrustProxy {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((entry) => entry.trim());
}
