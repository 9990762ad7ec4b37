import type {
  InstanceRegistry,
  RegisteredInstance,
  SessionCacheReport,
} from '../../src/replicas/instance-registry.js';

let made = 0;

export interface ReplicaShape {
  instanceId?: string;
  /** ISO 8601; the oldest replica in a handover reconciles. Default: now. */
  startedAt?: string;
  sessionCache?: Partial<SessionCacheReport>;
}

/** Another replica as the instance registry lists it. */
export function aReplica(shape: ReplicaShape = {}): RegisteredInstance {
  made += 1;
  const now = new Date().toISOString();
  return {
    instanceId: shape.instanceId ?? `replica-${made}`,
    startedAt: shape.startedAt ?? now,
    phase: 'ready',
    host: `keel-${made}`,
    pid: 1000 + made,
    version: '0.0.0-test',
    sessionBackend: shape.sessionCache?.backend ?? 'memory',
    heartbeatAt: now,
    settingsVersion: null,
    sessionCacheStatus: null,
    tasks: [],
    sessionCache: {
      backend: 'memory',
      version: 0,
      previous: null,
      readsPrevious: false,
      ...shape.sessionCache,
    },
  };
}

/**
 * The instance registry as the session cache uses it: the other live replicas are what the
 * test says (`others`), and this replica's reports are recorded. `unreachable` makes reads fail
 * as a database outage does.
 */
export class FakeInstanceRegistry implements Pick<InstanceRegistry, 'live' | 'reportSessionCache'> {
  others: RegisteredInstance[] = [];
  readonly reports: SessionCacheReport[] = [];
  /** Reads fail, as on a database outage. */
  unreachable = false;
  /** Writes of this replica's report fail (the report is not recorded). */
  reportsFail = false;

  async live(): Promise<RegisteredInstance[]> {
    if (this.unreachable) throw new Error('the instance registry cannot be read (test)');
    return this.others.map((replica) => structuredClone(replica));
  }

  async reportSessionCache(report: SessionCacheReport): Promise<void> {
    if (this.reportsFail) throw new Error('the instance registry cannot be written (test)');
    this.reports.push(report);
  }

  get lastReport(): SessionCacheReport | undefined {
    return this.reports.at(-1);
  }

  /** Replaces what replica `instanceId` reports (it moved on a step). */
  update(instanceId: string, report: Partial<SessionCacheReport>): void {
    this.others = this.others.map((replica) =>
      replica.instanceId === instanceId
        ? {
            ...replica,
            sessionBackend: report.backend ?? replica.sessionBackend,
            sessionCache: { ...replica.sessionCache, ...report },
          }
        : replica,
    );
  }

  asRegistry(): InstanceRegistry {
    return this as unknown as InstanceRegistry;
  }
}
