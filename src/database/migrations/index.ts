import type { Migration } from 'kysely';
import * as settings from './0001-settings.js';

/**
 * Every migration, in order. Names sort lexically and never change once released;
 * add a new file and a line here (docs/development.md, "Adding a migration").
 */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-settings': settings,
};
