import { setTimeout as delay } from 'node:timers/promises';
import { type BuiltAppProcess, startBuiltApp } from '../support/built-app-process.js';
import type { CookieSession } from '../support/http-client.js';
import { type Exposition, parsePrometheusText } from '../support/prometheus-text.js';
import {
  clearRedisPrefix,
  createPostgresDatabase,
  REDIS_URL,
  uniqueName,
} from '../support/services.js';
import { TEST_PASSWORD } from '../support/signed-in.js';

// Several Keel processes (the built server, as dist/main.js runs it) on one database: what the
// scale-out suites start. Each replica is a real process on its own port.

/** Short heartbeats and reconciliation, so convergence is measured in a test's time. */
export const TEST_REPLICA_TIMINGS = { heartbeatIntervalMs: 400, reconcileIntervalMs: 1000 };

/** The bearer token every replica's `/metrics` asks for (replicaMetrics sends it). */
const METRICS_TOKEN = 'replica-test-metrics-token-0123456789';

/** Every replica signs cookies with the same secret, as a Deployment's Secret gives them. */
const SESSION_SECRET = 'scale-out-test-secret-0123456789abcdef0123456789';

export function replicaEnvironment(options: {
  databaseUrl: string;
  redisUrl?: string;
  redisPrefix?: string;
  /**
   * The backend the replicas start on (SESSION_CACHE_BACKEND). Default `memory`: these suites
   * move sessions between backends from there, as they were written to. `null`: none named,
   * the environment's own default (redis when REDIS_URL is set, else database).
   */
  sessionBackend?: 'memory' | 'database' | 'redis' | null;
}): Record<string, string> {
  const backend = options.sessionBackend === undefined ? 'memory' : options.sessionBackend;
  return {
    DATABASE_URL: options.databaseUrl,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...(options.redisPrefix ? { REDIS_PREFIX: options.redisPrefix } : {}),
    ...(backend ? { SESSION_CACHE_BACKEND: backend } : {}),
    SESSION_SECRET,
    METRICS_TOKEN,
    // Unattended first-run setup: whichever replica starts first creates the admin.
    KEEL_ADMIN_USERNAME: 'admin',
    KEEL_ADMIN_PASSWORD: TEST_PASSWORD,
    SHUTDOWN_DRAIN_MS: '0',
    SHUTDOWN_GRACE_MS: '2000',
    KEEL_TEST_REPLICA_TIMINGS: JSON.stringify(TEST_REPLICA_TIMINGS),
    KEEL_TEST_SCRYPT_LOG_N: '10',
  };
}

/** What a replica's `/metrics` says now. */
export async function replicaMetrics(url: string): Promise<Exposition> {
  const response = await fetch(`${url}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    signal: AbortSignal.timeout(5000),
  });
  if (response.status !== 200) throw new Error(`${url}/metrics answered ${response.status}`);
  return parsePrometheusText(await response.text());
}

export async function startReplicas(
  count: number,
  env: Record<string, string>,
): Promise<BuiltAppProcess[]> {
  return Promise.all(Array.from({ length: count }, () => startBuiltApp(env)));
}

/** Replicas on a fresh PostgreSQL database and a Redis prefix of their own. */
export interface ServiceCluster {
  replicas: BuiltAppProcess[];
  /** Their REDIS_PREFIX. */
  prefix: string;
  /** Stops the replicas, then drops the database and the prefix's keys. */
  stop(): Promise<void>;
}

/** `count` replicas on the machine's PostgreSQL and Redis, starting on `sessionBackend`. */
export async function startServiceCluster(
  count: number,
  sessionBackend: 'memory' | 'database' | 'redis',
): Promise<ServiceCluster> {
  const database = await createPostgresDatabase();
  const prefix = `${uniqueName('keel_cluster')}:`;
  const env = replicaEnvironment({
    databaseUrl: database.url,
    redisUrl: REDIS_URL,
    redisPrefix: prefix,
    sessionBackend,
  });
  const replicas = await startReplicas(count, env).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  return {
    replicas,
    prefix,
    stop: async () => {
      await stopReplicas(replicas);
      await database.drop();
      await clearRedisPrefix(prefix);
    },
  };
}

/** Stops replicas as Kubernetes would (SIGTERM, drain), then cleans up. */
export async function stopReplicas(replicas: BuiltAppProcess[]): Promise<void> {
  await Promise.all(
    replicas.map(async (replica) => {
      if (replica.child.exitCode === null && replica.child.signalCode === null) {
        replica.child.kill('SIGTERM');
        await Promise.race([replica.exited, delay(5000, undefined, { ref: false })]);
      }
      await replica.cleanup();
    }),
  );
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** One API call with a session's cookie (and CSRF token on unsafe methods). */
export async function call<T = Record<string, unknown>>(
  baseUrl: string,
  session: CookieSession | undefined,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (session) headers.cookie = session.cookie;
  if (session && method !== 'GET') headers['x-csrf-token'] = session.csrfToken;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: (text ? JSON.parse(text) : undefined) as T,
    headers: response.headers,
  };
}

/** PATCH /api/settings at the current version, through `baseUrl`. */
export async function patchSettings(
  baseUrl: string,
  admin: CookieSession,
  values: Record<string, unknown>,
): Promise<Answer<{ version: number; values: Record<string, unknown> }>> {
  const current = await call(baseUrl, admin, 'GET', '/api/settings');
  if (current.status !== 200) throw new Error(`GET /api/settings: ${current.status}`);
  return call(baseUrl, admin, 'PATCH', '/api/settings', {
    body: { values },
    headers: { 'if-match': current.headers.get('etag')! },
  });
}

/** Polls `check` until it returns true; rejects after `timeoutMs`, naming `what`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
  pollMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(pollMs);
  }
}
