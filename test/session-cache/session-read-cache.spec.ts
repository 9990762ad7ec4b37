import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { SessionReadCache } from '../../src/session-cache/read-cache/session-read-cache.js';
import type { StoredSession } from '../../src/session-cache/session-backend.js';

// The read cache's promise, as an invariant: whatever the order in which reads reach the
// database, come back, this process's touches land, and change notices arrive, a read that
// starts after a change was heard never sees what came before it: an ended session stays
// ended, an older version never returns, and no answer carries an expiry later than the
// database holds.

const HOUR = 3_600_000;
const SIDS = ['a', 'b', 'c'] as const;
type Sid = (typeof SIDS)[number];

/**
 * One session in the model database: `version` grows with every write; ended is final. A touch
 * moves `expiresAt` later and sends no notice, as the trigger does.
 */
interface Row {
  version: number;
  live: boolean;
  expiresAt: number;
}

function stored(sid: string, row: Row): StoredSession | undefined {
  if (!row.live) return undefined;
  return {
    sid,
    data: String(row.version),
    userId: 'u',
    expiresAt: row.expiresAt,
    lastSeenAt: 0,
  };
}

/** A read of the model database: it takes its snapshot at one step and answers at a later one. */
interface ModelRead {
  sid: Sid;
  snapshot?: StoredSession | undefined | 'not yet';
  resolve: (value: StoredSession | undefined) => void;
}

interface GetCall {
  sid: Sid;
  /** What had been heard of the session when the get started. */
  heard: Row;
  result?: StoredSession | undefined;
  settled: boolean;
  /** The database's row when the answer came. */
  rowWhenAnswered?: Row;
}

/** A touch by this process whose database write lands at a later step. */
interface ModelTouch {
  sid: Sid;
  expiresAt: number;
  land: () => void;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('SessionReadCache', () => {
  it('never answers a read with a session older than the last change heard before it started (property)', async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    process.stdout.write(`read cache property: seed ${seed} (replay: FC_SEED=${seed})\n`);
    const sid = fc.constantFrom(...SIDS);
    // Weighted so that sessions live long enough for reads, touches and changes to interleave
    // (an end is final: with every kind of step equally likely, most runs end all three early).
    const step = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('get' as const), sid }) },
      {
        weight: 3,
        arbitrary: fc.record({ kind: fc.constant('snapshot' as const), pick: fc.nat(5) }),
      },
      {
        weight: 3,
        arbitrary: fc.record({ kind: fc.constant('answer' as const), pick: fc.nat(5) }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('update' as const), sid }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('end' as const), sid }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('touch' as const), sid }) },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('touchLands' as const), pick: fc.nat(5) }),
      },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('notice' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('leaseLapses' as const) }) },
    );

    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 60, size: 'max' }),
        async (steps) => {
          const cache = new SessionReadCache({ leased: true, maxEntries: 2 });
          cache.renewLease(performance.now(), HOUR);
          const first: Row = { version: 1, live: true, expiresAt: Date.now() + HOUR };
          const database = new Map<Sid, Row>(SIDS.map((id) => [id, { ...first }]));
          const heard = new Map<Sid, Row>(SIDS.map((id) => [id, { ...first }]));
          const touches: ModelTouch[] = [];
          const reads: ModelRead[] = [];
          const notices: { sid: Sid; row: Row }[] = [];
          const gets: GetCall[] = [];

          const read = (id: string) =>
            new Promise<StoredSession | undefined>((resolve) =>
              reads.push({ sid: id as Sid, snapshot: 'not yet', resolve }),
            );
          const write = (id: Sid, row: Row) => {
            database.set(id, row);
            notices.push({ sid: id, row });
          };

          for (const s of steps) {
            switch (s.kind) {
              case 'get': {
                const call: GetCall = {
                  sid: s.sid,
                  heard: { ...heard.get(s.sid)! },
                  settled: false,
                };
                gets.push(call);
                void cache.get(s.sid, read).then((result) => {
                  call.result = result;
                  call.settled = true;
                  call.rowWhenAnswered = { ...database.get(s.sid)! };
                });
                break;
              }
              case 'snapshot': {
                const waiting = reads.filter((r) => r.snapshot === 'not yet');
                const chosen = waiting[s.pick % Math.max(1, waiting.length)];
                if (chosen) chosen.snapshot = stored(chosen.sid, database.get(chosen.sid)!);
                break;
              }
              case 'answer': {
                const ready = reads.filter((r) => r.snapshot !== 'not yet');
                const chosen = ready[s.pick % Math.max(1, ready.length)];
                if (chosen) {
                  reads.splice(reads.indexOf(chosen), 1);
                  chosen.resolve(chosen.snapshot as StoredSession | undefined);
                }
                break;
              }
              case 'update': {
                const row = database.get(s.sid)!;
                if (row.live)
                  write(s.sid, {
                    version: row.version + 1,
                    live: true,
                    expiresAt: row.expiresAt + 1,
                  });
                break;
              }
              case 'end': {
                const row = database.get(s.sid)!;
                write(s.sid, { ...row, version: row.version + 1, live: false });
                break;
              }
              case 'touch': {
                const expiresAt = database.get(s.sid)!.expiresAt + 1000;
                void cache
                  .touch(
                    s.sid,
                    expiresAt,
                    0,
                    () =>
                      new Promise<void>((land) =>
                        touches.push({
                          sid: s.sid,
                          expiresAt,
                          land: () => {
                            // Only a live row, and only later: no notice.
                            const row = database.get(s.sid)!;
                            if (row.live && row.expiresAt < expiresAt)
                              database.set(s.sid, { ...row, expiresAt });
                            land();
                          },
                        }),
                      ),
                  )
                  .catch(() => undefined);
                break;
              }
              case 'touchLands': {
                const chosen = touches[s.pick % Math.max(1, touches.length)];
                if (chosen) {
                  touches.splice(touches.indexOf(chosen), 1);
                  chosen.land();
                }
                break;
              }
              case 'notice': {
                const notice = notices.shift();
                if (notice) {
                  cache.invalidate(notice.sid);
                  heard.set(notice.sid, notice.row);
                }
                break;
              }
              case 'leaseLapses':
                // The channel went quiet: notices may be lost (here: dropped), and what the cache
                // holds must go before it serves again.
                cache.endLease();
                for (const notice of notices.splice(0)) heard.set(notice.sid, notice.row);
                cache.renewLease(performance.now(), HOUR);
                break;
            }
            await flush();
          }
          // Everything still in flight comes back.
          for (const touch of touches.splice(0)) touch.land();
          for (const r of reads.splice(0)) {
            r.resolve(r.snapshot === 'not yet' ? stored(r.sid, database.get(r.sid)!) : r.snapshot);
          }
          await flush();

          for (const call of gets.filter((g) => g.settled)) {
            // Nothing, or a version no older than what was heard (nothing at all once ended).
            const version = call.result === undefined ? undefined : Number(call.result.data);
            const fresh =
              version === undefined || (call.heard.live && version >= call.heard.version);
            expect({ heard: call.heard, version, fresh }).toMatchObject({ fresh: true });
            // A touch never makes an entry outlive its row.
            const row = call.rowWhenAnswered!;
            if (call.result && row.live)
              expect(call.result.expiresAt).toBeLessThanOrEqual(row.expiresAt);
          }
          // Once every notice is heard, every read answers what the database holds.
          for (const notice of notices.splice(0)) cache.invalidate(notice.sid);
          for (const id of SIDS) {
            const row = database.get(id)!;
            const answer = await cache.get(id, async (x) => stored(x, database.get(x as Sid)!));
            expect(answer?.data).toBe(row.live ? String(row.version) : undefined);
          }
        },
      ),
      { seed, numRuns: 300 },
    );
  });

  it('stops answering from memory when its lease runs out, and forgets everything before serving again', async () => {
    const cache = new SessionReadCache({ leased: true });
    const session = stored('a', { version: 1, live: true, expiresAt: Date.now() + HOUR })!;
    const reads: string[] = [];
    const read = async (sid: string) => {
      reads.push(sid);
      return session;
    };
    cache.renewLease(performance.now(), 100);
    await cache.get('a', read);
    await cache.get('a', read);
    expect(reads).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(cache.serving()).toBe(false);
    await cache.get('a', read);
    expect(reads).toHaveLength(2);
    // An echo sent before the gap ended proves nothing about the gap: what was cached is gone.
    cache.renewLease(performance.now(), 60_000);
    expect(cache.size).toBe(0);
    await cache.get('a', read);
    await cache.get('a', read);
    expect(reads).toHaveLength(3);
  });

  it('keeps a touched session in memory with its new expiry, but never extends one that expired during the touch', async () => {
    const cache = new SessionReadCache({ leased: false });
    const reads: string[] = [];
    let expiresAt = Date.now() + HOUR;
    const read = async (sid: string) => {
      reads.push(sid);
      return stored(sid, { version: 1, live: true, expiresAt })!;
    };
    await cache.get('a', read);
    await cache.touch('a', expiresAt + HOUR, 7, async () => {
      expiresAt += HOUR;
    });
    await expect(cache.get('a', read)).resolves.toMatchObject({
      expiresAt,
      lastSeenAt: 7,
    });
    expect(reads).toHaveLength(1);

    // The session expires while the touch is in flight: the database touches only a live row,
    // so the entry must not come back to life with the new expiry.
    expiresAt = Date.now() + 20;
    await cache.get('b', read);
    await cache.touch('b', Date.now() + HOUR, 8, () => delay(40));
    await expect(cache.get('b', read)).resolves.toMatchObject({ expiresAt });
    expect(reads).toEqual(['a', 'b', 'b']);
  });
});
