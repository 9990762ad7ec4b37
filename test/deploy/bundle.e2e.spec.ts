import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEEL_MAIN, startBuiltApp } from '../support/built-app-process.js';
import {
  createPostgresDatabase,
  describeWithPostgres,
  describeWithRedis,
  clearRedisPrefix,
  REDIS_URL,
  uniqueName,
} from '../support/services.js';

// `npm start` and the image run dist/bundle/main.js (deploy/bundle.js): dist/ and its packages
// in one file. What could differ from tsc's dist/ is checked here: the paths Keel builds from its
// own file (the web pages, package.json's version), and that every package runs as one copy.
// A second copy loaded from node_modules beside the bundled one has its own module state:
// class-validator's or class-transformer's metadata store, Nest's, pino's.

const ROOT = join(import.meta.dirname, '..', '..');
const PRELOAD = join(import.meta.dirname, 'loaded-files.js');

/** Packages inside the bundle, from its source map. */
function bundledPackages(): Set<string> {
  const map = JSON.parse(readFileSync(`${KEEL_MAIN}.map`, 'utf8')) as { sources: string[] };
  return new Set(map.sources.flatMap((source) => packageOf(source) ?? []));
}

function packageOf(path: string): string | undefined {
  return /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1];
}

/** node-postgres and node-redis, each bundled into one file beside the bundle (deploy/bundle.js). */
const NODE_POSTGRES_FILE = join(KEEL_MAIN, '..', 'node-postgres.cjs');
const NODE_REDIS_FILE = join(KEEL_MAIN, '..', 'node-redis.cjs');

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/** Read whole before the server stops: a body left unread would be cut off by the exit. */
async function read(response: Promise<Response>): Promise<Answer> {
  const res = await response;
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    text: await res.text(),
  };
}

async function runBundle(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-bundle-'));
  const loadedFile = join(dir, 'loaded.json');
  const app = await startBuiltApp(
    {
      DATA_DIR: join(dir, 'data'),
      KEEL_ADMIN_USERNAME: 'bundle-admin',
      KEEL_ADMIN_PASSWORD: 'bundle password 123456',
      NODE_OPTIONS: `--import ${PRELOAD}`,
      KEEL_TEST_LOADED_FILES: loadedFile,
      ...env,
    },
    { script: KEEL_MAIN },
  );
  try {
    const answers = {
      ready: await read(fetch(`${app.url}/health/ready`)),
      setupPage: await read(fetch(`${app.url}/setup`)),
      // An unknown field: class-validator (through the bundled ValidationPipe) must refuse it.
      unknownField: await read(
        fetch(`${app.url}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'bundle-admin', password: 'x', extra: true }),
        }),
      ),
      login: await read(
        fetch(`${app.url}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'bundle-admin', password: 'bundle password 123456' }),
        }),
      ),
      openapi: await read(fetch(`${app.url}/api/docs/openapi.json`)),
      // Swagger UI's files come from swagger-ui-dist's own folder in node_modules.
      docsPage: await read(fetch(`${app.url}/api/docs`)),
    };
    app.child.kill('SIGTERM');
    const exit = await app.exited;
    const loaded = JSON.parse(readFileSync(loadedFile, 'utf8')) as string[];
    return { answers, exit, loaded };
  } finally {
    await app.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function expectServesLikeDist(run: Awaited<ReturnType<typeof runBundle>>): Promise<void> {
  const { answers } = run;
  expect(answers.ready.status).toBe(200);
  expect(answers.setupPage.status).toBe(200);
  expect(answers.setupPage.contentType).toMatch(/^text\/html/);
  expect(JSON.parse(answers.unknownField.text)).toMatchObject({
    statusCode: 400,
    code: 'validation_failed',
    fields: [expect.objectContaining({ field: 'extra' })],
  });
  expect(answers.login.status).toBe(200);
  expect(JSON.parse(answers.login.text)).toMatchObject({ user: { username: 'bundle-admin' } });
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  expect(answers.openapi.status).toBe(200);
  expect((JSON.parse(answers.openapi.text) as { info: { version: string } }).info.version).toBe(
    version,
  );
  expect(answers.docsPage.status).toBe(200);
  expect(answers.docsPage.text).toMatch(/swagger-ui/);
  expect(run.exit.code).toBe(0);
}

/** Packages loaded from node_modules although the bundle holds them: must be none. */
function secondCopies(loaded: string[]): string[] {
  const bundled = bundledPackages();
  return [...new Set(loaded.flatMap((file) => packageOf(file) ?? []))].filter((name) =>
    bundled.has(name),
  );
}

describe('the production bundle (dist/bundle/main.js)', () => {
  it('is ASCII, so that V8 holds its source one byte per character', () => {
    for (const file of [KEEL_MAIN, NODE_POSTGRES_FILE, NODE_REDIS_FILE]) {
      expect([file, readFileSync(file).findIndex((byte) => byte > 0x7f)]).toEqual([file, -1]);
    }
  });

  it('on SQLite: serves as dist/ does, and loads only better-sqlite3 from node_modules', async () => {
    const run = await runBundle({});
    await expectServesLikeDist(run);
    const packages = new Set(run.loaded.flatMap((file) => packageOf(file) ?? []));
    // The preload saw the run-time requires (so an empty list below means something).
    expect(packages).toContain('better-sqlite3');
    expect(run.loaded).not.toContain(NODE_POSTGRES_FILE);
    expect(run.loaded).not.toContain(NODE_REDIS_FILE);
    expect(packages).not.toContain('pg');
    expect(packages).not.toContain('@redis/client');
    expect(secondCopies(run.loaded)).toEqual([]);
  });

  describeWithPostgres('on PostgreSQL', () => {
    it('serves as dist/ does, loads node-postgres from its one file and not better-sqlite3, one copy of each', async () => {
      const database = await createPostgresDatabase();
      try {
        const run = await runBundle({ DATABASE_URL: database.url });
        await expectServesLikeDist(run);
        const packages = new Set(run.loaded.flatMap((file) => packageOf(file) ?? []));
        expect(run.loaded).toContain(NODE_POSTGRES_FILE);
        expect(packages).not.toContain('pg');
        expect(packages).not.toContain('better-sqlite3');
        expect(secondCopies(run.loaded)).toEqual([]);
      } finally {
        await database.drop();
      }
    });
  });

  describeWithRedis('with Redis', () => {
    it('serves with its sessions on Redis, node-redis loaded from its one file', async () => {
      const prefix = `${uniqueName('keel_bundle')}:`;
      const run = await runBundle({ REDIS_URL: REDIS_URL!, REDIS_PREFIX: prefix }).finally(() =>
        clearRedisPrefix(prefix),
      );
      await expectServesLikeDist(run);
      const packages = new Set(run.loaded.flatMap((file) => packageOf(file) ?? []));
      expect(run.loaded).toContain(NODE_REDIS_FILE);
      expect(packages).not.toContain('@redis/client');
      expect(packages).not.toContain('redis');
      expect(secondCopies(run.loaded)).toEqual([]);
    });
  });
});
