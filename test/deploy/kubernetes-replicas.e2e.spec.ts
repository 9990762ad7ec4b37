import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BuiltAppProcess, KEEL_MAIN, startBuiltApp } from '../support/built-app-process.js';
import { login, logout, me } from '../support/http-client.js';
import {
  clearRedisPrefix,
  createPostgresDatabase,
  POSTGRES_URL,
  REDIS_URL,
  type TemporaryDatabase,
  uniqueName,
} from '../support/services.js';
import { call, stopReplicas, waitUntil } from '../scale-out/replica-cluster.js';
import { parseYamlDocuments } from './yaml-documents.js';

// deploy/kubernetes applied as it is must bring three replicas to ready with no command run by
// hand. There is no cluster here, so this starts three Keel processes (dist/bundle/main.js, as the
// image runs it) with the environment the manifests give a pod, changed only where this
// machine must differ (SUBSTITUTED below), and checks what an operator would see.

const DIR = join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');
const REPLICAS = 3;
const READY_WITHIN_MS = 30_000;

interface Manifest {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas: number;
    template: {
      spec: {
        containers: {
          envFrom: ({ configMapRef: { name: string } } | { secretRef: { name: string } })[];
          volumeMounts: { name: string; mountPath: string }[];
        }[];
        volumes: {
          name: string;
          secret?: { secretName: string; items: { key: string; path: string }[] };
        }[];
      };
    };
  };
}

const manifests = readdirSync(DIR)
  .filter((file) => file.endsWith('.yaml'))
  .flatMap((file) => parseYamlDocuments(readFileSync(join(DIR, file), 'utf8')) as Manifest[]);

function named(kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in ${DIR}`);
  return found;
}

const deployment = manifests.find((m) => m.kind === 'Deployment')!;
const pod = deployment.spec!.template.spec;
const container = pod.containers[0]!;

/** A pod's environment: every ConfigMap and Secret of envFrom, later ones winning. */
function podEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom) {
    const values =
      'configMapRef' in source
        ? named('ConfigMap', source.configMapRef.name).data
        : named('Secret', source.secretRef.name).stringData;
    Object.assign(env, values);
  }
  return env;
}

/** Each file a Secret volume puts in the container: its path there and its content. */
function mountedSecretFiles(): { path: string; content: string; mountPath: string }[] {
  return container.volumeMounts.flatMap((mount) => {
    const secret = pod.volumes.find((volume) => volume.name === mount.name)?.secret;
    if (!secret) return [];
    const data = named('Secret', secret.secretName).stringData ?? {};
    return secret.items.map((item) => ({
      path: join(mount.mountPath, item.path),
      content: data[item.key]!,
      mountPath: mount.mountPath,
    }));
  });
}

(POSTGRES_URL && REDIS_URL ? describe : describe.skip)(
  `deploy/kubernetes started as ${REPLICAS} replicas (PostgreSQL + Redis)`,
  () => {
    let database: TemporaryDatabase;
    const redisPrefix = `${uniqueName('keel_k8s')}:`;
    const adminPassword = `admin-${randomBytes(12).toString('hex')}`;
    const secretsDir = mkdtempSync(join(tmpdir(), 'keel-k8s-secrets-'));
    const dataDirs: string[] = [];
    let replicas: BuiltAppProcess[] = [];
    let readyAfterMs: number[] = [];
    let env: Record<string, string>;

    beforeAll(async () => {
      database = await createPostgresDatabase();
      const manifestEnv = podEnvironment();
      const files = mountedSecretFiles();
      const passwordFile = files.find((file) => file.path === manifestEnv.KEEL_ADMIN_PASSWORD_FILE);
      if (!passwordFile) {
        throw new Error(
          `KEEL_ADMIN_PASSWORD_FILE (${manifestEnv.KEEL_ADMIN_PASSWORD_FILE}) is no file a Secret volume mounts`,
        );
      }
      // The Secret volume, as the kubelet would write it, with the example's placeholder filled.
      const mountedPasswordFile = join(secretsDir, 'password');
      writeFileSync(
        mountedPasswordFile,
        passwordFile.content.replace('REPLACE_ME', adminPassword),
        { mode: 0o440 },
      );

      // What differs on this machine, and why. Nothing else of the manifests' environment does.
      const SUBSTITUTED = {
        // The services of this machine, not the cluster's; a database and Redis prefix of the
        // test's own, so other suites' data is not this cluster's.
        DATABASE_URL: database.url,
        REDIS_URL: REDIS_URL!,
        REDIS_PREFIX: redisPrefix,
        // The example's placeholder is too short by design (it must never boot).
        SESSION_SECRET: randomBytes(48).toString('base64'),
        // Each pod has an address of its own; three processes on one host need three ports.
        PORT: '0',
        HOST: '127.0.0.1',
        // The mounted Secret file, where this machine has it.
        KEEL_ADMIN_PASSWORD_FILE: mountedPasswordFile,
      };
      env = { ...manifestEnv, ...SUBSTITUTED };
      expect(env.NODE_ENV).toBe('production');
      expect(env.KEEL_ADMIN_PASSWORD).toBeUndefined();
      expect(env.SESSION_CACHE_BACKEND).toBeUndefined();

      const startedAt = Date.now();
      replicas = await Promise.all(
        Array.from({ length: REPLICAS }, () => {
          // An emptyDir per pod.
          const dataDir = mkdtempSync(join(tmpdir(), 'keel-k8s-data-'));
          dataDirs.push(dataDir);
          return startBuiltApp({ ...env, DATA_DIR: dataDir }, { script: KEEL_MAIN });
        }),
      );
      readyAfterMs = await Promise.all(
        replicas.map(async (replica) => {
          await waitUntil(
            `${replica.url}/health/ready answers 200`,
            async () => (await fetch(`${replica.url}/health/ready`)).status === 200,
            READY_WITHIN_MS,
            100,
          );
          return Date.now() - startedAt;
        }),
      );
    }, READY_WITHIN_MS + 30_000);

    afterAll(async () => {
      await stopReplicas(replicas);
      await database?.drop();
      await clearRedisPrefix(redisPrefix);
      for (const dir of [secretsDir, ...dataDirs]) rmSync(dir, { recursive: true, force: true });
    });

    it(`brings every replica to ready within ${READY_WITHIN_MS / 1000} s, with no step by hand`, () => {
      expect(deployment.spec!.replicas).toBe(REPLICAS);
      expect(readyAfterMs).toHaveLength(REPLICAS);
      for (const ms of readyAfterMs) expect(ms).toBeLessThanOrEqual(READY_WITHIN_MS);
      process.stdout.write(`replicas ready after ${readyAfterMs.join(', ')} ms\n`);
    });

    it('creates one admin from the Secret, whichever replica started first', async () => {
      const admin = await login(replicas[1]!.url, env.KEEL_ADMIN_USERNAME!, adminPassword);
      const users = await call<{ username: string; role: string }[]>(
        replicas[2]!.url,
        admin,
        'GET',
        '/api/users',
      );
      expect(users.status).toBe(200);
      expect(users.body.map(({ username, role }) => ({ username, role }))).toEqual([
        { username: env.KEEL_ADMIN_USERNAME, role: 'admin' },
      ]);
      // Exactly one replica created it; the others found it.
      const created = replicas.filter((replica) =>
        replica.logs.some((line) =>
          /^Setup completed unattended: first admin /.test(String(line.msg)),
        ),
      );
      expect(created).toHaveLength(1);
    });

    it('serves sessions from Redis, the default its environment gives, on every replica', async () => {
      const admin = await login(replicas[0]!.url, env.KEEL_ADMIN_USERNAME!, adminPassword);
      const settings = await call<{
        values: { sessionCache: { backend: string } };
        sources: Record<string, string>;
      }>(replicas[0]!.url, admin, 'GET', '/api/settings');
      expect(settings.body.values.sessionCache.backend).toBe('redis');
      expect(settings.body.sources['sessionCache.backend']).toBe('environment');

      // Signed in on one replica, the session works on all three; signed out on another, on none.
      for (const replica of replicas) {
        expect(await me(replica.url, admin)).toEqual({ status: 200, userId: admin.userId });
      }
      expect(await logout(replicas[2]!.url, admin)).toBe(204);
      for (const replica of replicas) {
        expect((await me(replica.url, admin)).status).toBe(401);
      }
    });
  },
);
