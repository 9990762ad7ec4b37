import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ErrorCode } from '../http/error-codes.js';
import { InstanceRegistry, type LiveInstance } from '../replicas/instance-registry.js';
import { ReadinessRegistry } from '../runtime-state/readiness-registry.js';
import { RuntimeStateService } from '../runtime-state/runtime-state.service.js';
import {
  type PreflightVerdict,
  OnSettingsEvent,
  SettingsEvent,
  type SettingsPreflightEvent,
} from '../settings/settings.events.js';

const BACKEND_KEY = 'sessionCache.backend';

/**
 * With more than one live replica, a process-local session backend (`memory`) is wrong: a
 * user's session exists on the replica that created it only, so the load balancer's next pick
 * logs them out. Then:
 * - readiness check `sessionCacheShared` fails on every replica running it but the oldest live
 *   one (from the live replicas the last heartbeat saw, so the probe costs no query): traffic
 *   goes to that one alone, whose users keep their sessions, and the Service never empties
 *   (scaling one memory replica to two is no outage); the change to a shared backend is made
 *   through it, as any change;
 * - a settings change to `memory` is refused, `409 backend_not_shared` (asked of the registry
 *   at that moment). First-run setup checks its initial settings through the same preflight.
 */
@Injectable()
export class SplitBrainGuard implements OnApplicationBootstrap {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly registry: InstanceRegistry,
    private readonly runtime: RuntimeStateService,
  ) {}

  /** After the session cache registered its own check, so the probe lists them in that order. */
  onApplicationBootstrap(): void {
    this.readiness.register('sessionCacheShared', async () => {
      const status = this.runtime.sessionCacheStatus;
      if (status.shared) return;
      const others = this.others(this.registry.lastSeenLive);
      if (others.length === 0) return;
      const oldest = oldestOf([
        ...others,
        { instanceId: this.runtime.instanceId, startedAt: this.runtime.startedAt.toISOString() },
      ]);
      if (oldest.instanceId === this.runtime.instanceId) return;
      throw new Error(splitBrainMessage(others.length + 1, status.backend, oldest));
    });
  }

  @OnSettingsEvent(SettingsEvent.Preflight, { suppressErrors: false })
  async preflight(event: SettingsPreflightEvent): Promise<PreflightVerdict> {
    if (!event.changedKeys.includes(BACKEND_KEY)) return undefined;
    const backend = event.proposed.sessionCache.backend;
    if (backend !== 'memory') return undefined;
    const others = this.others(await this.registry.live());
    if (others.length === 0) return undefined;
    return {
      refuse: true,
      status: 409,
      code: ErrorCode.BackendNotShared,
      message: `${others.length + 1} replicas are live, and the ${backend} session backend keeps sessions inside each process, so a user signed in on one replica would be unknown to the others: use redis or database while more than one replica runs`,
    };
  }

  private others(live: readonly LiveInstance[]): LiveInstance[] {
    return live.filter((instance) => instance.instanceId !== this.runtime.instanceId);
  }
}

/** The replica that started first (ties: the smaller id): the one that keeps serving. */
function oldestOf<T extends Pick<LiveInstance, 'instanceId' | 'startedAt'>>(replicas: T[]): T {
  return [...replicas].sort(
    (a, b) => a.startedAt.localeCompare(b.startedAt) || a.instanceId.localeCompare(b.instanceId),
  )[0]!;
}

export function splitBrainMessage(
  replicas: number,
  backend: string,
  oldest: Pick<LiveInstance, 'instanceId'> & Partial<Pick<LiveInstance, 'host'>>,
): string {
  const serving = oldest.host ? `${oldest.host}/${oldest.instanceId}` : oldest.instanceId;
  return `${replicas} replicas are live but sessions are kept in ${backend}, inside each process: a user signed in on one replica is unknown to the others. The oldest replica (${serving}) keeps serving; this one is not ready until sessionCache.backend is redis or database (PATCH /api/settings through a ready replica), or it runs alone`;
}
