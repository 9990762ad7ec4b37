import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { ENVIRONMENT_VARIABLES, validateEnvironment } from '../../src/config/environment.js';
import { DEFAULT_READINESS_TIMEOUT_MS } from '../../src/runtime-state/readiness-registry.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { kubernetesModel, parseYamlDocuments } from './yaml-documents.js';

// The manifests in deploy/kubernetes must describe the app that ships: every probe path
// exists and answers as Kubernetes expects, the ports and names line up, and the shutdown
// timings leave the drain room to finish before Kubernetes sends SIGKILL.

const DIR = join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');

interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

interface Probe {
  httpGet: { path: string; port: string | number; scheme?: string };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

interface Container {
  name: string;
  ports: { name?: string; containerPort: number }[];
  envFrom: ({ configMapRef: { name: string } } | { secretRef: { name: string } })[];
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
}

const objects = readdirSync(DIR)
  .filter((file) => file.endsWith('.yaml'))
  .flatMap((file) => parseYamlDocuments(readFileSync(join(DIR, file), 'utf8')) as K8sObject[]);

function only<T extends K8sObject>(kind: string): T {
  const found = objects.filter((object) => object.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in ${DIR}, found ${found.length}`);
  return found[0] as T;
}

const deployment = only<
  K8sObject & {
    spec: {
      replicas: number;
      selector: { matchLabels: Record<string, string> };
      strategy: { rollingUpdate: { maxUnavailable: number; maxSurge: number } };
      template: {
        metadata: { labels: Record<string, string> };
        spec: {
          terminationGracePeriodSeconds: number;
          containers: Container[];
          securityContext: { runAsNonRoot: boolean; runAsUser: number };
          topologySpreadConstraints?: {
            topologyKey: string;
            labelSelector: { matchLabels: Record<string, string> };
          }[];
        };
      };
    };
  }
>('Deployment');
const disruptionBudget = only<
  K8sObject & {
    spec: {
      maxUnavailable?: number;
      minAvailable?: number;
      selector: { matchLabels: Record<string, string> };
    };
  }
>('PodDisruptionBudget');
const service = only<
  K8sObject & {
    spec: {
      selector: Record<string, string>;
      ports: { port: number; targetPort: string | number }[];
    };
  }
>('Service');
const configMap = only<K8sObject & { data: Record<string, string> }>('ConfigMap');
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0]!;
const secrets = objects.filter((object) => object.kind === 'Secret') as (K8sObject & {
  stringData: Record<string, string>;
})[];
/** The Secret the container takes its environment from. */
const secret = secrets.find((candidate) =>
  container.envFrom.some(
    (source) => 'secretRef' in source && source.secretRef.name === candidate.metadata.name,
  ),
)!;
const probes = (['startupProbe', 'livenessProbe', 'readinessProbe'] as const).map((kind) => ({
  kind,
  probe: container[kind],
}));

describe('deploy/kubernetes', () => {
  it('has one Deployment with one container, a Service, a ConfigMap, a PodDisruptionBudget and two Secret examples', () => {
    expect(podSpec.containers).toHaveLength(1);
    expect(secrets.map((object) => object.metadata.name).sort()).toEqual([
      'keel-admin',
      'keel-secrets',
    ]);
    expect(secret?.metadata.name).toBe('keel-secrets');
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
  });

  it('defines all three probes as HTTP GETs on a port the container listens on (PORT)', () => {
    const port = Number(configMap.data.PORT);
    for (const { kind, probe } of probes) {
      expect([kind, probe?.httpGet.path]).toEqual([kind, expect.stringMatching(/^\/health\//)]);
      const target = probe!.httpGet.port;
      const containerPort =
        typeof target === 'number'
          ? target
          : container.ports.find((entry) => entry.name === target)?.containerPort;
      expect([kind, containerPort]).toEqual([kind, port]);
      expect(probe!.httpGet.scheme ?? 'HTTP').toBe('HTTP');
    }
    const targetPort = service.spec.ports[0]!.targetPort;
    expect(
      container.ports.some(
        (entry) => entry.name === targetPort || entry.containerPort === targetPort,
      ),
    ).toBe(true);
  });

  it('gives the drain and grace periods room before Kubernetes sends SIGKILL', () => {
    const drainMs = Number(configMap.data.SHUTDOWN_DRAIN_MS);
    const graceMs = Number(configMap.data.SHUTDOWN_GRACE_MS);
    expect(drainMs).toBeGreaterThan(0);
    // Closing the database and Redis after the grace period takes a moment too.
    expect(podSpec.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(
      drainMs + graceMs + 5000,
    );
    // A load balancer polling readiness notices the drain before the server stops accepting.
    const readiness = container.readinessProbe!;
    expect(
      (readiness.periodSeconds ?? 10) * (readiness.failureThreshold ?? 3) * 1000,
    ).toBeLessThanOrEqual(drainMs);
    // Each readiness check gives up (and says why) before Kubernetes stops waiting.
    expect((readiness.timeoutSeconds ?? 1) * 1000).toBeGreaterThan(DEFAULT_READINESS_TIMEOUT_MS);
  });

  it('runs several replicas on shared PostgreSQL and Redis, from the Secret', () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(3);
    // Several replicas cannot share a SQLite file or a process-local cache: both URLs must be
    // secrets of the Deployment, pointing at PostgreSQL and Redis.
    expect(secret.stringData.DATABASE_URL).toMatch(/^postgres(ql)?:\/\//);
    expect(secret.stringData.REDIS_URL).toMatch(/^rediss?:\/\//);
    expect(configMap.data.DATABASE_URL).toBeUndefined();
    expect(configMap.data.REDIS_URL).toBeUndefined();
    // Rolling updates and voluntary disruptions never take more than one replica at a time.
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(disruptionBudget.spec.selector.matchLabels).toEqual(
      deployment.spec.template.metadata.labels,
    );
    const unavailable =
      disruptionBudget.spec.maxUnavailable ??
      deployment.spec.replicas - (disruptionBudget.spec.minAvailable ?? 0);
    expect(unavailable).toBeGreaterThanOrEqual(1);
    expect(unavailable).toBeLessThan(deployment.spec.replicas);
    // Spread over nodes, selecting this Deployment's own pods.
    for (const constraint of podSpec.topologySpreadConstraints ?? []) {
      expect(constraint.labelSelector.matchLabels).toEqual(
        deployment.spec.template.metadata.labels,
      );
    }
    expect(podSpec.topologySpreadConstraints?.length).toBeGreaterThan(0);
  });

  it('runs the image the Dockerfile builds: non-root, DATA_DIR writable', () => {
    const dockerfile = readFileSync(join(DIR, '..', '..', 'Dockerfile'), 'utf8');
    expect(podSpec.securityContext.runAsNonRoot).toBe(true);
    expect(dockerfile).toMatch(new RegExp(`^USER ${podSpec.securityContext.runAsUser}:`, 'm'));
    expect(dockerfile).toMatch(new RegExp(`DATA_DIR=${configMap.data.DATA_DIR}\\b`));
    const mounts = (container as Container & { volumeMounts: { mountPath: string }[] })
      .volumeMounts;
    expect(mounts.map((mount) => mount.mountPath)).toContain(configMap.data.DATA_DIR);
  });

  it('requests resources', () => {
    expect(container.resources.requests).toEqual({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
  });

  it('takes its environment from the ConfigMap and the Secret, all of it valid once the placeholders are filled', () => {
    const sources = container.envFrom.map((source) =>
      'configMapRef' in source
        ? `ConfigMap/${source.configMapRef.name}`
        : `Secret/${source.secretRef.name}`,
    );
    expect(sources.sort()).toEqual([
      `ConfigMap/${configMap.metadata.name}`,
      `Secret/${secret.metadata.name}`,
    ]);

    const env = { ...configMap.data, ...secret.stringData };
    for (const name of Object.keys(env)) {
      expect(ENVIRONMENT_VARIABLES).toContain(name);
    }
    const filled = Object.fromEntries(
      Object.entries(env).map(([name, value]) => [
        name,
        value.replace('REPLACE_ME', name === 'SESSION_SECRET' ? 'x'.repeat(48) : 'secret'),
      ]),
    );
    // The admin's password is a mounted file, never an environment variable.
    expect(env.KEEL_ADMIN_PASSWORD).toBeUndefined();
    expect(env.KEEL_ADMIN_PASSWORD_FILE).toMatch(/^\//);
    expect(validateEnvironment(filled)).toMatchObject({ NODE_ENV: 'production', PORT: 3000 });
    // Left unfilled, the example cannot boot: no deployment runs on a published secret.
    expect(() => validateEnvironment(env)).toThrow(/SESSION_SECRET/);
  });

  describe('against the app', () => {
    let keel: TestApp;
    beforeAll(async () => {
      keel = await startTestApp();
    });
    afterAll(async () => {
      await keel.close();
    });

    it.each(probes.map(({ kind, probe }) => [kind, probe!.httpGet.path]))(
      '%s %s exists and answers 200 on a healthy instance',
      async (_kind, path) => {
        const response = await request(keel.url).get(path);
        expect(response.status).toBe(200);
        expect(response.body.status).toBe('ok');
      },
    );
  });
});

describe('the manifests against the Kubernetes API types (kubernetes-models)', () => {
  it.each(objects.map((object) => [`${object.kind}/${object.metadata.name}`, object]))(
    '%s is valid',
    (_name, object) => {
      expect(() => kubernetesModel(object).validate()).not.toThrow();
    },
  );

  it('would catch a field of the wrong type or a missing required one', () => {
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0]!.ports[0]!.containerPort = '3000' as never;
    expect(() => kubernetesModel(broken).validate()).toThrow(/containerPort must be integer/);
    const nameless = structuredClone(deployment);
    delete (nameless.spec.template.spec.containers[0] as Partial<Container>).name;
    expect(() => kubernetesModel(nameless).validate()).toThrow(/name/);
  });
});

describe('reading the manifests', () => {
  it('refuses a document it would misread (a duplicate key, a broken indent) instead of reading it', () => {
    expect(() => parseYamlDocuments('a: 1\na: 2')).toThrow(/unique/i);
    expect(() => parseYamlDocuments('a:\n  b: 1\n c: 2')).toThrow();
    expect(parseYamlDocuments('a: 1\n---\nb: [1, 2]\n')).toEqual([{ a: 1 }, { b: [1, 2] }]);
  });
});
