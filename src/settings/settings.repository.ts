import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { JsonObject } from './merge-patch.js';

export interface StoredSettings {
  version: number;
  overrides: JsonObject;
  updatedAt: number;
}

export interface SettingsHistoryEntry {
  version: number;
  changedAt: string;
  changedBy: string | null;
  changes: Record<string, { from: unknown; to: unknown }>;
}

export interface SettingsChange {
  expectedVersion: number;
  overrides: JsonObject;
  changedBy: string | null;
  changes: Record<string, { from: unknown; to: unknown }>;
  now: number;
}

/** The settings row (one, id 1) and its history. The database is the single source of truth. */
@Injectable()
export class SettingsRepository {
  constructor(private readonly database: DatabaseService) {}

  /** Creates the row at version 0 (defaults, no overrides) unless it exists. Safe to race. */
  async ensureRow(now: number): Promise<void> {
    await this.database.db
      .insertInto('settings')
      .values({ id: 1, version: 0, overrides: '{}', updated_at: now, updated_by: null })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async load(): Promise<StoredSettings> {
    const row = await this.database.db
      .selectFrom('settings')
      .select(['version', 'overrides', 'updated_at'])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return {
      version: row.version,
      overrides: JSON.parse(row.overrides) as JsonObject,
      updatedAt: row.updated_at,
    };
  }

  /**
   * Compare-and-set: writes version `expectedVersion + 1` only if the stored version is still
   * `expectedVersion`, and its history row in the same transaction. Concurrent writers with the
   * same expectation: on PostgreSQL the row lock makes the losers re-check `version` and match
   * nothing; SQLite has one writer. Returns false when another change got there first.
   */
  async compareAndSet(change: SettingsChange): Promise<boolean> {
    return this.database.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('settings')
        .set({
          version: change.expectedVersion + 1,
          overrides: JSON.stringify(change.overrides),
          updated_at: change.now,
          updated_by: change.changedBy,
        })
        .where('id', '=', 1)
        .where('version', '=', change.expectedVersion)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await trx
        .insertInto('settings_history')
        .values({
          version: change.expectedVersion + 1,
          changed_at: change.now,
          changed_by: change.changedBy,
          changes: JSON.stringify(change.changes),
        })
        .execute();
      return true;
    });
  }

  /**
   * The newest change of the dotted `key` in the history: its version and when it was made
   * (epoch ms), or undefined when the key never changed (it has its default).
   */
  async lastChangeOf(key: string): Promise<{ version: number; at: number } | undefined> {
    const rows = await this.database.db
      .selectFrom('settings_history')
      .select(['version', 'changed_at', 'changes'])
      .where('changes', 'like', `%${JSON.stringify(key)}%`)
      .orderBy('version', 'desc')
      .limit(20)
      .execute();
    // The LIKE only narrows; a key whose name contains this one is told apart here.
    const row = rows.find((candidate) => key in (JSON.parse(candidate.changes) as object));
    return row && { version: row.version, at: Number(row.changed_at) };
  }

  async history(limit: number): Promise<SettingsHistoryEntry[]> {
    const rows = await this.database.db
      .selectFrom('settings_history')
      .selectAll()
      .orderBy('version', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      version: row.version,
      changedAt: new Date(row.changed_at).toISOString(),
      changedBy: row.changed_by,
      changes: JSON.parse(row.changes) as SettingsHistoryEntry['changes'],
    }));
  }
}
