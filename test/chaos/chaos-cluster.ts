import { setTimeout as delay } from 'node:timers/promises';
import { type BuiltAppProcess, startBuiltApp } from '../support/built-app-process.js';
import type { CookieSession } from '../support/http-client.js';
import { call, type Answer, waitUntil } from '../scale-out/replica-cluster.js';

/**
 * Real Keel processes (the built server, as dist/main.js runs it) on one PostgreSQL database
 * and one Redis, for the model-based test: replica `i` is always reachable at `url(i)`, and a
 * replica can be restarted gracefully (SIGTERM) or killed (SIGKILL) and replaced.
 */
export class ChaosCluster {
  private constructor(
    /** The environment of each replica slot (a restarted replica gets its slot's). */
    private readonly envs: Record<string, string>[],
    readonly replicas: BuiltAppProcess[],
  ) {}

  static async start(envs: Record<string, string>[]): Promise<ChaosCluster> {
    const replicas: BuiltAppProcess[] = [];
    // One after another: the first completes unattended setup before the others look.
    for (const env of envs) replicas.push(await startBuiltApp(env));
    return new ChaosCluster(envs, replicas);
  }

  get size(): number {
    return this.replicas.length;
  }

  url(index: number): string {
    return this.replicas[index % this.replicas.length]!.url;
  }

  /** Stops replica `index` (SIGTERM: drain; SIGKILL: at once) and starts a new one in its place. */
  async restart(index: number, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const slot = index % this.replicas.length;
    const old = this.replicas[slot]!;
    old.child.kill(signal);
    await Promise.race([old.exited, delay(10_000, undefined, { ref: false })]);
    await old.cleanup();
    this.replicas[slot] = await startBuiltApp(this.envs[slot]!);
  }

  /**
   * Each replica's state, for a failure's report: whether its process still runs (a replica
   * that exited on its own shows here, where the failing step only sees a refused connection)
   * and its last warnings and errors.
   */
  describe(): string {
    return this.replicas
      .map((replica, i) => {
        const { exitCode, signalCode } = replica.child;
        const state =
          exitCode === null && signalCode === null
            ? 'running'
            : `exited (code ${exitCode}, signal ${signalCode})`;
        const problems = replica.logs
          .filter((line) => typeof line.level === 'number' && line.level >= 40)
          .slice(-5)
          .map((line) => `    ${JSON.stringify(line)}`);
        return [`  replica ${i} ${replica.url}: ${state}`, ...problems].join('\n');
      })
      .join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.replicas.map(async (replica) => {
        replica.child.kill('SIGTERM');
        await Promise.race([replica.exited, delay(5000, undefined, { ref: false })]);
        await replica.cleanup();
      }),
    );
  }

  /**
   * Once every replica holds the same settings version and serves the backend it names, with no
   * swap or handover in progress: that backend.
   */
  async settled(admin: CookieSession): Promise<string> {
    let backend = '';
    await waitUntil(
      'every replica at the same settings version',
      async () => {
        const versions = new Set<number>();
        for (let i = 0; i < this.size; i++) {
          const settings = await call<{
            version: number;
            values: { sessionCache: { backend: string } };
          }>(this.url(i), admin, 'GET', '/api/settings');
          if (settings.status !== 200) return false;
          versions.add(settings.body.version);
          backend = settings.body.values.sessionCache.backend;
        }
        return versions.size === 1;
      },
      30_000,
      100,
    );
    await this.serving(admin, backend);
    return backend;
  }

  /** Until every replica serves `backend` with no swap or handover in progress. */
  private async serving(admin: CookieSession, backend: string): Promise<void> {
    let seen: unknown[] = [];
    try {
      await waitUntil(
        `every replica on ${backend} alone`,
        async () => {
          seen = [];
          for (let i = 0; i < this.size; i++) {
            const runtime = await call<{ sessionCache: { backend: string; swapping: boolean } }>(
              this.url(i),
              admin,
              'GET',
              '/api/runtime',
            );
            seen.push(runtime.status === 200 ? runtime.body.sessionCache : runtime.status);
          }
          return seen.every(
            (cache) =>
              typeof cache === 'object' &&
              (cache as { backend: string }).backend === backend &&
              !(cache as { swapping: boolean }).swapping,
          );
        },
        30_000,
        100,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; the replicas say ${JSON.stringify(seen)}`);
    }
  }
}

/** A session as the model test holds it: the cookie, its CSRF token and a label (its User-Agent). */
export interface LabelledSession extends CookieSession {
  label: string;
}

/** POST /api/auth/login, whatever the answer; the session when it is 200. */
export async function tryLogin(
  url: string,
  username: string,
  password: string,
  label: string,
): Promise<{ status: number; session?: LabelledSession }> {
  const response = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': label },
    body: JSON.stringify({ username, password }),
  });
  const text = await response.text();
  if (response.status !== 200) return { status: response.status };
  const body = JSON.parse(text) as { csrfToken: string; user: { id: string } };
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('keel.sid='))!;
  return {
    status: 200,
    session: {
      cookie: cookie.split(';')[0]!,
      csrfToken: body.csrfToken,
      userId: body.user.id,
      label,
    },
  };
}

export { call, type Answer };
