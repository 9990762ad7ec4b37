import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { LiveInstance } from './instance-registry.js';
import type { InstanceSummary, RuntimeReport } from './runtime-report.js';
import type {
  InvalidSetting,
  ListenerFailure,
  Phase,
  SessionCacheStatus,
  SessionCacheSwap,
} from '../runtime-state/runtime-state.service.js';
import type { TaskState, TaskStatus } from '../tasks/task-supervisor.js';

// The shapes of `GET /api/runtime`, for the OpenAPI document only. Each implements the type
// the code returns, so the two cannot drift apart unnoticed.

// Written as records so that a new phase or task state does not compile until it is listed.
const PHASES = Object.keys({ starting: 1, ready: 1, draining: 1 } satisfies Record<Phase, 1>);
const TASK_STATES = Object.keys({
  pending: 1,
  running: 1,
  'backing-off': 1,
  failed: 1,
  stopped: 1,
} satisfies Record<TaskState, 1>);

export class InstanceSummaryResponse implements InstanceSummary {
  @ApiProperty({ format: 'uuid', description: 'Random per process; new after every restart.' })
  instanceId!: string;

  @ApiProperty({ format: 'date-time' })
  startedAt!: string;

  @ApiProperty({ enum: PHASES, enumName: 'Phase' })
  phase!: Phase;
}

export class LiveInstanceResponse extends InstanceSummaryResponse implements LiveInstance {
  @ApiProperty({ description: 'Host name of the process (the pod name on Kubernetes).' })
  host!: string;

  @ApiProperty({ type: 'integer' })
  pid!: number;

  @ApiProperty({ description: 'Keel version the replica runs.', example: '0.1.0' })
  version!: string;

  @ApiProperty({ enum: ['memory', 'database', 'redis'] })
  sessionBackend!: 'memory' | 'database' | 'redis';

  @ApiProperty({ format: 'date-time', description: 'Last heartbeat, by the database clock.' })
  heartbeatAt!: string;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    description:
      'The settings version the replica serves; behind while lower than the stored one. Null for a replica of an older Keel version, which does not say.',
  })
  settingsVersion!: number | null;

  @ApiProperty({
    type: () => SessionCacheStatusResponse,
    nullable: true,
    description:
      'The replica’s session cache as its own `sessionCache` shows it (a swap’s progress, its last swap), written to the registry within a fraction of a second of a change. Null for a replica that does not say.',
  })
  sessionCacheStatus!: SessionCacheStatusResponse | null;

  @ApiProperty({
    type: () => [TaskStatusResponse],
    description: 'The replica’s supervised tasks, as of its last heartbeat.',
  })
  tasks!: TaskStatusResponse[];
}

const SESSION_BACKENDS = ['memory', 'database', 'redis'] as const;

export class SessionCacheSwapResponse implements SessionCacheSwap {
  @ApiProperty({ enum: SESSION_BACKENDS })
  from!: (typeof SESSION_BACKENDS)[number];

  @ApiProperty({ enum: SESSION_BACKENDS })
  to!: (typeof SESSION_BACKENDS)[number];

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty({ type: 'integer', description: 'Sessions copied to the new backend.' })
  migrated!: number;

  @ApiProperty({ type: 'integer' })
  durationMs!: number;

  @ApiPropertyOptional({ description: 'Set when the swap failed and the old backend stayed.' })
  error?: string;
}

export class SessionCacheProgressResponse {
  @ApiProperty({ type: 'integer', description: 'Sessions copied so far.' })
  migrated!: number;

  @ApiProperty({
    type: 'integer',
    description: 'Sessions the old backend held when the copy began.',
  })
  total!: number;
}

export class SessionCacheStatusResponse implements SessionCacheStatus {
  @ApiProperty({ enum: SESSION_BACKENDS, description: 'The backend this replica serves.' })
  backend!: (typeof SESSION_BACKENDS)[number];

  @ApiProperty({
    enum: SESSION_BACKENDS,
    description:
      'The backend the settings name. Differs from `backend` while this replica cannot follow them (it keeps retrying, and fails readiness).',
  })
  desired!: (typeof SESSION_BACKENDS)[number];

  @ApiProperty({ description: 'False for memory: its sessions exist on this replica only.' })
  shared!: boolean;

  @ApiProperty({
    description: 'From the start of a swap to the end of its cross-replica handover.',
  })
  swapping!: boolean;

  @ApiProperty({
    type: () => SessionCacheProgressResponse,
    nullable: true,
    description: 'The copy of the swap in progress; null outside a copy.',
  })
  progress!: SessionCacheProgressResponse | null;

  @ApiProperty({ type: () => SessionCacheSwapResponse, nullable: true })
  lastSwap!: SessionCacheSwapResponse | null;
}

class TaskErrorResponse {
  @ApiProperty()
  message!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;
}

export class TaskStatusResponse implements TaskStatus {
  @ApiProperty()
  name!: string;

  @ApiProperty({ description: 'A critical task past its restart budget fails liveness.' })
  critical!: boolean;

  @ApiProperty({ enum: TASK_STATES, enumName: 'TaskState' })
  state!: TaskState;

  @ApiProperty({
    type: 'integer',
    description: 'Restarts after crashes since the process started.',
  })
  restarts!: number;

  @ApiProperty({ type: () => TaskErrorResponse, nullable: true })
  lastError!: TaskErrorResponse | null;
}

export class ListenerFailureResponse implements ListenerFailure {
  @ApiProperty({ example: 'settings.changed' })
  source!: string;

  @ApiProperty()
  message!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;
}

export class InvalidSettingResponse implements InvalidSetting {
  @ApiProperty({ example: 'auth.loginMaxAttempts' })
  key!: string;

  @ApiProperty({ example: 'loginMaxAttempts must be an integer' })
  message!: string;
}

export class RuntimeReportResponse extends InstanceSummaryResponse implements RuntimeReport {
  @ApiProperty({ type: () => SessionCacheStatusResponse })
  sessionCache!: SessionCacheStatusResponse;

  @ApiProperty({ type: () => [TaskStatusResponse] })
  tasks!: TaskStatusResponse[];

  @ApiProperty({
    type: () => [LiveInstanceResponse],
    description: 'Live replicas (heartbeat younger than 3 intervals), this one included.',
  })
  instances!: LiveInstanceResponse[];

  @ApiProperty({ type: () => [ListenerFailureResponse] })
  listenerFailures!: ListenerFailureResponse[];

  @ApiProperty({
    type: () => [InvalidSettingResponse],
    description:
      'Stored settings that failed validation when loaded (written by hand or by an older version): their defaults are in force until a change replaces them.',
  })
  invalidSettings!: InvalidSettingResponse[];
}
