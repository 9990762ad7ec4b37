import type { StoredSession } from '../session-backend.js';

// What the redis backend keeps in Redis, and the scripts that change it only where a session
// still exists (ending is final: docs/architecture.md, "Session cache").

/** What is stored under `${prefix}sess:${sid}`; the expiry is the key's own (PEXPIREAT). */
export interface RedisSessionValue {
  data: string;
  userId: string | null;
  /** Absent in values written before Keel kept it. */
  lastSeenAt?: number;
}

/**
 * `get`: a session's value and its key's expiry (PEXPIRETIME, epoch ms) in one command: a
 * request's read costs one round trip and one reply, where MULTI/GET/PEXPIRETIME/EXEC cost four
 * of each. Atomic, as the transaction was. Nil when there is no key.
 * KEYS: session key.
 */
export const READ_SESSION = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
return {raw, redis.call('PEXPIRETIME', KEYS[1])}`;

/**
 * `update`: replaces the session only if its key still exists, and moves its user-index entry,
 * atomically (a session destroyed meanwhile is never written back).
 * KEYS: session key, [user index key]; ARGV: value, expiresAt (epoch ms), sid.
 */
export const UPDATE_IF_PRESENT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
if KEYS[2] then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PEXPIREAT', KEYS[2], ARGV[2], 'NX')
  redis.call('PEXPIREAT', KEYS[2], ARGV[2], 'GT')
end
return 1`;

/**
 * `touch`: moves the expiry and `lastSeenAt` of a session whose key still exists (the data is
 * rewritten as read, in the same atomic step, so no concurrent write is lost). Returns the
 * session's userId (so the caller can move its index entry), or nil when there is no session.
 * KEYS: session key; ARGV: expiresAt, lastSeenAt (epoch ms).
 */
export const TOUCH_IF_PRESENT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local value = cjson.decode(raw)
value['lastSeenAt'] = tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(value), 'PXAT', ARGV[1])
if type(value['userId']) == 'string' then return value['userId'] end
return false`;

/**
 * `putManyIfAbsent`: for each session, `SET ... PXAT ... NX` (only where no live key is), and
 * for each one set, its user-index entry; atomically, in one round trip. Returns the ids set.
 * KEYS: the session keys (one per session, in order), then the user index keys; ARGV: per
 * session four values: value, expiresAt (epoch ms), sid, position in KEYS of its user index key
 * (0: none).
 */
export const INSERT_MANY_IF_ABSENT = `
local inserted = {}
for i = 1, #ARGV / 4 do
  local at = (i - 1) * 4
  if redis.call('SET', KEYS[i], ARGV[at + 1], 'PXAT', ARGV[at + 2], 'NX') then
    local userKey = tonumber(ARGV[at + 4])
    if userKey > 0 then
      redis.call('ZADD', KEYS[userKey], ARGV[at + 2], ARGV[at + 3])
      redis.call('PEXPIREAT', KEYS[userKey], ARGV[at + 2], 'NX')
      redis.call('PEXPIREAT', KEYS[userKey], ARGV[at + 2], 'GT')
    end
    inserted[#inserted + 1] = ARGV[at + 3]
  end
end
return inserted`;

export function encodeValue(session: StoredSession): string {
  const value: RedisSessionValue = {
    data: session.data,
    userId: session.userId,
    lastSeenAt: session.lastSeenAt,
  };
  return JSON.stringify(value);
}

export function parseValue(raw: string): RedisSessionValue {
  return JSON.parse(raw) as RedisSessionValue;
}
