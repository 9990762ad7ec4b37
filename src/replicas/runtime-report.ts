import type { LiveInstance } from './instance-registry.js';
import type {
  InvalidSetting,
  ListenerFailure,
  Phase,
  SessionCacheStatus,
} from '../runtime-state/runtime-state.service.js';
import type { TaskStatus } from '../tasks/task-supervisor.js';

export interface InstanceSummary {
  readonly instanceId: string;
  readonly startedAt: string;
  readonly phase: Phase;
}

/** `GET /api/runtime` (docs/operations.md, "Runtime state"), plus `listenerFailures`. */
export interface RuntimeReport extends InstanceSummary {
  readonly sessionCache: SessionCacheStatus;
  readonly tasks: TaskStatus[];
  /** Live replicas (the instance registry), this one included, oldest first. */
  readonly instances: LiveInstance[];
  readonly listenerFailures: readonly ListenerFailure[];
  /** Stored settings that failed validation when loaded: their defaults are in force. */
  readonly invalidSettings: readonly InvalidSetting[];
}
