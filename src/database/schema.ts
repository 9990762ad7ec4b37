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

export interface DatabaseSchema {
  settings: SettingsTable;
  settings_history: SettingsHistoryTable;
  sessions: SessionsTable;
  users: UsersTable;
}
