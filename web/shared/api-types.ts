// The API's answers as the browser code reads them: only the fields it uses. Written here, not
// imported from the client `npm run api:client` generates (git-ignored, made by a full build), so
// `tsc -p web/tsconfig.json` works on a fresh clone in a second. They cannot drift from the
// server: test/client/web-api-types.check.ts asserts that each generated schema is assignable
// to its type here, which the root type-check (`npm test`, after `npm run api:client`) checks.
// Plain types only: the root tsconfig (no DOM) compiles this file too.

export type Role = 'admin' | 'member';
export type SessionBackend = 'memory' | 'database' | 'redis';

export interface UserSummary {
  id: string;
  username: string;
  email: string | null;
  role: Role;
}
export interface SignedIn {
  user: UserSummary;
  csrfToken: string;
}
export interface Me {
  user: UserSummary;
}
export interface PublicUser extends UserSummary {
  disabled: boolean;
}
export interface OwnSession {
  id: string;
  createdAt: string | null;
  lastSeenAt: string | null;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

export interface Settings {
  version: number;
  values: { sessionCache: { backend: SessionBackend } };
  sources: Partial<Record<string, string>>;
}
export interface SettingsHistoryEntry {
  version: number;
  changedAt: string;
  changedBy: string | null;
  changes: Record<string, { from?: unknown; to?: unknown }>;
}

export interface SessionCacheStatus {
  backend: SessionBackend;
  desired: SessionBackend;
  swapping: boolean;
  progress: { migrated: number; total: number } | null;
  lastSwap: {
    from: string;
    to: string;
    at: string;
    migrated: number;
    durationMs: number;
    error?: string | null;
  } | null;
}
export interface TaskStatus {
  name: string;
  state: string;
  restarts: number;
  lastError: { message: string; at: string } | null;
}
export interface LiveInstance {
  instanceId: string;
  phase: string;
  host: string;
  pid: number;
  version: string;
  sessionBackend: SessionBackend;
  heartbeatAt: string;
  settingsVersion: number | null;
  sessionCacheStatus: SessionCacheStatus | null;
  tasks: TaskStatus[];
}
export interface RuntimeReport {
  instanceId: string;
  sessionCache: SessionCacheStatus;
  instances: LiveInstance[];
}

export interface SetupCompleted {
  user: UserSummary;
  csrfToken: string;
  settings?: { applied: boolean; error?: string };
}
