/**
 * Table types shared by both dialects. Conventions that keep SQLite and PostgreSQL alike:
 * times are epoch milliseconds (`bigint`, parsed to number), JSON is stored as text,
 * booleans as 0/1 integers.
 */
export interface SettingsTable {
  id: number;
  version: number;
  overrides: string;
  updated_at: number;
  updated_by: string | null;
}

export interface SettingsHistoryTable {
  version: number;
  changed_at: number;
  changed_by: string | null;
  changes: string;
}

/** One row per session of the `database` session-cache backend; `data` is the session's JSON. */
export interface SessionsTable {
  sid: string;
  data: string;
  user_id: string | null;
  expires_at: number;
  updated_at: number;
  /** When the session was last used (epoch ms); 0 for rows written before migration 0006. */
  last_seen_at: number;
}

/**
 * One row per user. `username_normalized` (NFKC, lower-cased) is unique, so usernames are unique
 * case-insensitively; `password_hash` is a self-describing scrypt string (src/users).
 */
export interface UsersTable {
  id: string;
  username: string;
  username_normalized: string;
  email: string | null;
  role: 'admin' | 'member';
  password_hash: string;
  disabled: number;
  created_at: number;
  updated_at: number;
}

/**
 * First-run setup (one row, id 1). `completed_at` is null until setup created the first admin;
 * `token_hash` is the SHA-256 (base64url) of the setup token while setup is required, null after.
 */
export interface SetupStateTable {
  id: number;
  token_hash: string | null;
  token_created_at: number | null;
  completed_at: number | null;
  admin_user_id: string | null;
}

/**
 * The instance registry: one row per running process (src/replicas/instance-registry.ts).
 * `heartbeat_at` is the database's clock, so replicas on hosts with skewed clocks still agree
 * on who is live. `session_cache_version` is the settings version whose session-cache backend
 * the process serves (a swap across replicas waits until every live one has reached it).
 */
export interface InstancesTable {
  instance_id: string;
  host: string;
  pid: number;
  started_at: number;
  /** Keel's version (package.json) the process runs. */
  version: string;
  phase: 'starting' | 'ready' | 'draining';
  session_backend: 'memory' | 'database' | 'redis';
  session_cache_version: number;
  /** During a handover: the old backend this replica still writes; null otherwise. */
  session_previous_backend: 'memory' | 'database' | 'redis' | null;
  /** 1 while this replica still reads the old backend of its handover. */
  session_reads_previous: number;
  /** JSON: what the replica shows of itself (src/replicas/instance-registry.ts, InstanceReport). */
  report: string;
  heartbeat_at: number;
}

export interface DatabaseSchema {
  settings: SettingsTable;
  settings_history: SettingsHistoryTable;
  sessions: SessionsTable;
  users: UsersTable;
  setup_state: SetupStateTable;
  instances: InstancesTable;
}
