import { type RawBuilder, sql } from 'kysely';

/**
 * "Now" in epoch milliseconds by the database's clock, as an SQL expression. Rows that
 * several hosts compare (the instance registry's heartbeats) are stamped and compared with the
 * one clock they share, so a replica whose own clock is skewed is neither taken for dead nor
 * kept alive. SQLite runs on the same host as its one process: its clock is ours.
 */
export function databaseNowMs(dialect: 'sqlite' | 'postgres'): RawBuilder<number> {
  return dialect === 'postgres'
    ? sql<number>`(floor(extract(epoch from clock_timestamp()) * 1000))::bigint`
    : sql<number>`${Date.now()}`;
}
