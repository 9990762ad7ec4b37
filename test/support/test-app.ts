import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/http/configure-app.js';
import { RuntimeStateService } from '../../src/runtime-state/runtime-state.service.js';
import { PASSWORD_HASHER_OPTIONS } from '../../src/users/password-hasher.js';
import { createPostgresDatabase, type TemporaryDatabase } from './services.js';
import { signInAsAdmin, type SignedInClient } from './signed-in.js';

/** scrypt at 2^10: fast enough for suites that sign in hundreds of times. */
export const TEST_SCRYPT_PARAMETERS = { logN: 10 };

export interface TestAppOptions {
  /** Which database the app runs on: a fresh SQLite file, or a fresh PostgreSQL database. */
  dialect?: 'sqlite' | 'postgres';
  /** Extra bootstrap settings, as the environment would give them. */
  env?: Record<string, string>;
  /** Reuse a data directory or database (a "restart"); the caller then owns their cleanup. */
  dataDir?: string;
  databaseUrl?: string;
  /** Hash passwords with the production (OWASP) scrypt parameters instead of cheap ones. */
  realPasswordHashing?: boolean;
  /** Create an admin and sign it in: `keel.admin` is then a signed-in client. */
  admin?: boolean;
  /** Providers to replace with a value (a cheaper hasher's options, a recording collaborator). */
  overrideProviders?: { token: unknown; value: unknown }[];
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
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...options.env,
  };
  let builder = Test.createTestingModule({
    imports: [AppModule.forRoot({ env, logging: { destination: destination as never } })],
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
  // As serve() does in main.ts: every bootstrap hook ran inside listen(), so start-up is over.
  app.get(RuntimeStateService).markReady();
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
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (options.admin) keel.admin = await signInAsAdmin(keel);
  return keel;
}
