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

export interface DatabaseSchema {
  settings: SettingsTable;
  settings_history: SettingsHistoryTable;
}
