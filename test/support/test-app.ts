import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../../src/app.module.js';
import { DatabaseService } from '../../src/database/database.service.js';
import { configureApp } from '../../src/app/configure-app.js';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { ActiveSessionBackend } from '../../src/session-cache/active-session-backend.js';
import type { SessionBackendKind } from '../../src/session-cache/session-backend.js';
import { SettingsService } from '../../src/settings/settings.service.js';
import { PASSWORD_HASHER_OPTIONS } from '../../src/users/password-hasher.js';
import { UsersService } from '../../src/users/users.service.js';
import {
  createPostgresDatabase,
  dropPostgresDatabaseAt,
  type TemporaryDatabase,
} from './services.js';
import { collectLogLines } from './log-lines.js';
import { createUser, signIn, type SignedInClient, TEST_PASSWORD } from './signed-in.js';
import { TestRoutesModule } from './test-routes.js';

/** scrypt at 2^10: fast enough for suites that sign in hundreds of times. */
export const TEST_SCRYPT_PARAMETERS = { logN: 10 };

export interface TestAppOptions {
  /** Which database the app runs on: a fresh SQLite file, or a fresh PostgreSQL database. */
  dialect?: 'sqlite' | 'postgres';
  /** Extra bootstrap settings, as the environment would give them. */
  env?: Record<string, string>;
  /** Reuse a data directory or database (a "restart"); the caller then owns their cleanup... */
  dataDir?: string;
  databaseUrl?: string;
  /** ...unless this app adopts them: then close() removes them, as for an app that made its own. */
  adoptData?: boolean;
  /** Hash passwords with the production (OWASP) scrypt parameters instead of cheap ones. */
  realPasswordHashing?: boolean;
  /**
   * Create the admin `admin` (password TEST_PASSWORD) and sign it in: `keel.admin` is then a
   * signed-in client. The admin is made by unattended first-run setup, as an install would.
   */
  admin?: boolean;
  /**
   * Whether setup is complete when the app is handed over (default true): with `admin`, by
   * unattended setup; without, setup is recorded as done and no user is made (as for an install
   * whose users predate setup), for suites that create their own. `false`: a fresh install,
   * where `/api/*` but setup answers 503 until setup is done.
   */
  completeSetup?: boolean;
  /** Providers to replace with a value (a cheaper hasher's options, a recording collaborator). */
  overrideProviders?: { token: unknown; value: unknown }[];
  /**
   * The session-cache backend the app starts on, as the environment names it
   * (SESSION_CACHE_BACKEND); unset, it follows REDIS_URL and DATABASE_URL like any install
   * (`redis`, else `database` on PostgreSQL, else `memory`). Suites whose assertions depend on
   * the backend they start on say it here.
   */
  sessionBackend?: SessionBackendKind;
  /** Mount test/support/test-routes.ts (`POST /test/session-write` behind a RequestGate). */
  testRoutes?: boolean;
}

export interface TestApp {
  app: NestExpressApplication;
  url: string;
  dataDir: string;
  databaseUrl?: string;
  /** With `admin: true`: a signed-in admin client. */
  admin?: SignedInClient;
  /** Every log line the app wrote, as parsed JSON. */
  logs: Record<string, unknown>[];
  /** Closes the app, then drops what it created (unless `keepData`). */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** Boots the whole app, as main.ts does, on a free port of 127.0.0.1. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'keel-test-'));
  let database: TemporaryDatabase | undefined;
  let databaseUrl = options.databaseUrl;
  if (!databaseUrl && options.dialect === 'postgres') {
    database = await createPostgresDatabase();
    databaseUrl = database.url;
  }
  const { destination, lines: logs } = collectLogLines();
  const completeSetup = options.completeSetup ?? true;
  if (options.admin && !completeSetup) throw new Error('admin: true needs completeSetup');
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(options.admin ? { KEEL_ADMIN_USERNAME: 'admin', KEEL_ADMIN_PASSWORD: TEST_PASSWORD } : {}),
    ...(options.sessionBackend ? { SESSION_CACHE_BACKEND: options.sessionBackend } : {}),
    ...options.env,
  };
  // Each app logs through its own pino instance into `logs`. Nest's `new Logger(...)` lines from
  // outside a request go to the app that called useLogger last: while two apps run at once, the
  // older one's such lines land in the newer one's `logs` (its request lines never do).
  let builder = Test.createTestingModule({
    imports: [
      AppModule.forRoot({ env, logging: { destination: destination as never } }),
      ...(options.testRoutes ? [TestRoutesModule] : []),
    ],
  });
  // Tests hash with cheap scrypt parameters; one users test runs the real OWASP ones.
  const overrides = options.realPasswordHashing
    ? []
    : [{ token: PASSWORD_HASHER_OPTIONS, value: TEST_SCRYPT_PARAMETERS }];
  for (const { token, value } of [...overrides, ...(options.overrideProviders ?? [])]) {
    builder = builder.overrideProvider(token).useValue(value);
  }
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({
    bodyParser: false,
    abortOnError: false,
    bufferLogs: true,
  });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  if (completeSetup && !options.admin) await recordSetupAsDone(app);
  // As serve() does in main.ts: every bootstrap hook ran inside listen(), so start-up is over.
  app.get(RuntimeStateService).markReady();
  // As Kubernetes waits for readiness: the session backend answers (Redis connects in the
  // background at start-up) before a test sends its first request.
  await sessionBackendAnswers(app);
  const address = app.getHttpServer().address() as { port: number };
  const keel: TestApp = {
    app,
    url: `http://127.0.0.1:${address.port}`,
    dataDir,
    databaseUrl,
    logs,
    async close({ keepData = false } = {}) {
      await app.close();
      if (keepData) return;
      await database?.drop();
      if (options.adoptData && !database && databaseUrl?.startsWith('postgres')) {
        await dropPostgresDatabaseAt(databaseUrl);
      }
      if (!options.dataDir || options.adoptData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (options.admin) {
    // Unattended setup made it, unless setup was done before (a restart on the same database).
    if (!(await app.get(UsersService).findByUsername('admin')))
      await createUser(keel, 'admin', 'admin');
    keel.admin = await signIn(keel, 'admin');
  }
  return keel;
}

async function sessionBackendAnswers(app: NestExpressApplication): Promise<void> {
  const active = app.get(ActiveSessionBackend);
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await active.backend.ping();
      return;
    } catch {
      // A suite about an unreachable backend starts on one: hand the app over all the same.
      if (Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Makes the settings name `backend` (a live swap, as an admin's change would be), if needed. */
export async function useSessionBackend(
  app: NestExpressApplication,
  backend: SessionBackendKind,
): Promise<void> {
  const settings = app.get(SettingsService);
  if (settings.current.values.sessionCache.backend === backend) return;
  await settings.update({ sessionCache: { backend } }, settings.current.version, 'test');
}

/**
 * Records first-run setup as complete without making a user: what migration 0004 does for an
 * install whose admins predate setup. The app learns it on its next check, as a replica learns
 * that another one completed setup.
 */
async function recordSetupAsDone(app: NestExpressApplication): Promise<void> {
  await app
    .get(DatabaseService)
    .db.updateTable('setup_state')
    .set({ completed_at: Date.now(), token_hash: null, token_created_at: null })
    .where('completed_at', 'is', null)
    .execute();
}
