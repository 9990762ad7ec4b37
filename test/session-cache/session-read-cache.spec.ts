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
 * moves only `expiresAt`, and sends a notice only when it brings it closer, as the trigger does.
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
  /** Where the session's expiry history stood when the get started. */
  from: number;
  /** The latest expiry its row had while the get was in flight (a read may answer any). */
  latestExpiry?: number;
  /**
   * Whether a notice of the session was unheard when the get started or when its answer came:
   * then the cache may not know of a change yet (a get may share a read already in flight).
   */
  noticePending: boolean;
}

/**
 * A touch by this process: its write lands in the database at one step, and the answer (did a
 * live row take it) reaches the process at a later one.
 */
interface ModelTouch {
  sid: Sid;
  expiresAt: number;
  found?: boolean;
  answer: (found: boolean) => void;
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
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('touchAnswers' as const), pick: fc.nat(5) }),
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
          // Expiries come from a clock (now + the idle timeout): a write issued later sets a
          // later one, so writes that land out of order can bring an expiry closer.
          let clock = 0;
          const nextExpiry = () => first.expiresAt + ++clock * 10;
          const reads: ModelRead[] = [];
          const notices: { sid: Sid; row: Row }[] = [];
          const gets: GetCall[] = [];

          const read = (id: string) =>
            new Promise<StoredSession | undefined>((resolve) =>
              reads.push({ sid: id as Sid, snapshot: 'not yet', resolve }),
            );
          // Every expiry each row has had, in order.
          const history = new Map<Sid, number[]>(SIDS.map((id) => [id, [first.expiresAt]]));
          const setRow = (id: Sid, row: Row) => {
            database.set(id, row);
            history.get(id)!.push(row.expiresAt);
          };
          const write = (id: Sid, row: Row) => {
            setRow(id, row);
            notices.push({ sid: id, row });
          };
          /** A touch's write: only a live row; a closer expiry is a change the trigger sends. */
          const land = (touch: ModelTouch) => {
            const row = database.get(touch.sid)!;
            touch.found = row.live;
            if (!row.live) return;
            const touched = { ...row, expiresAt: touch.expiresAt };
            setRow(touch.sid, touched);
            if (touch.expiresAt < row.expiresAt) notices.push({ sid: touch.sid, row: touched });
          };

          for (const s of steps) {
            switch (s.kind) {
              case 'get': {
                const call: GetCall = {
                  sid: s.sid,
                  heard: { ...heard.get(s.sid)! },
                  settled: false,
                  from: history.get(s.sid)!.length - 1,
                  noticePending: notices.some((n) => n.sid === s.sid),
                };
                gets.push(call);
                void cache.get(s.sid, read).then((result) => {
                  call.result = result;
                  call.settled = true;
                  call.latestExpiry = Math.max(...history.get(s.sid)!.slice(call.from));
                  call.noticePending ||= notices.some((n) => n.sid === s.sid);
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
                  write(s.sid, { version: row.version + 1, live: true, expiresAt: nextExpiry() });
                break;
              }
              case 'end': {
                const row = database.get(s.sid)!;
                write(s.sid, { ...row, version: row.version + 1, live: false });
                break;
              }
              case 'touch': {
                const expiresAt = nextExpiry();
                void cache
                  .touch(
                    s.sid,
                    expiresAt,
                    0,
                    () =>
                      new Promise<boolean>((answer) =>
                        touches.push({ sid: s.sid, expiresAt, answer }),
                      ),
                  )
                  .catch(() => undefined);
                break;
              }
              case 'touchLands': {
                const waiting = touches.filter((t) => t.found === undefined);
                const chosen = waiting[s.pick % Math.max(1, waiting.length)];
                if (chosen) land(chosen);
                break;
              }
              case 'touchAnswers': {
                const landed = touches.filter((t) => t.found !== undefined);
                const chosen = landed[s.pick % Math.max(1, landed.length)];
                if (chosen) {
                  touches.splice(touches.indexOf(chosen), 1);
                  chosen.answer(chosen.found!);
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
          for (const touch of touches.splice(0)) {
            if (touch.found === undefined) land(touch);
            touch.answer(touch.found!);
          }
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
            // No answer carries an expiry its row did not have while the get was in flight,
            // unless a notice that says so was still on its way.
            if (call.result && !call.noticePending)
              expect(call.result.expiresAt).toBeLessThanOrEqual(call.latestExpiry!);
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

  it('keeps a touched session in memory with its new expiry, and drops it when the touch found no live row', async () => {
    const cache = new SessionReadCache({ leased: false });
    const reads: string[] = [];
    let row: Row = { version: 1, live: true, expiresAt: Date.now() + HOUR };
    const read = async (sid: string) => {
      reads.push(sid);
      return stored(sid, row);
    };
    // As the database backend's touchLive: only a live row takes it.
    const touchRow =
      (expiresAt: number, after = 0) =>
      async () => {
        await delay(after);
        if (!row.live || row.expiresAt <= Date.now()) return false;
        row = { ...row, expiresAt };
        return true;
      };
    await cache.get('a', read);
    const later = row.expiresAt + HOUR;
    await cache.touch('a', later, 7, touchRow(later));
    await expect(cache.get('a', read)).resolves.toMatchObject({ expiresAt: later, lastSeenAt: 7 });
    expect(reads).toEqual(['a']);

    // The row expires while the touch is in flight: the touch finds nothing, and the entry must
    // not come back to life with the new expiry.
    row = { ...row, expiresAt: Date.now() + 20 };
    await cache.get('b', read);
    await cache.touch('b', Date.now() + HOUR, 8, touchRow(Date.now() + HOUR, 40));
    await cache.get('b', read);
    expect(reads).toEqual(['a', 'b', 'b']);

    // A row deleted with no change notice (SQLite, an operator's SQL): the touch finds nothing,
    // and the next read asks the database.
    row = { version: 2, live: true, expiresAt: Date.now() + HOUR };
    await cache.get('c', read);
    row = { ...row, live: false };
    await cache.touch('c', Date.now() + HOUR, 9, touchRow(Date.now() + HOUR));
    await expect(cache.get('c', read)).resolves.toBeUndefined();
    expect(reads).toEqual(['a', 'b', 'b', 'c', 'c']);

    // A change lands and is heard while the touch is in flight, and a read caches the new
    // version: the touch's answer must not stretch that entry (the row holds the change's
    // expiry, which is earlier).
    row = { version: 3, live: true, expiresAt: Date.now() + HOUR };
    await cache.get('d', read);
    let answer!: (found: boolean) => void;
    const touching = cache.touch(
      'd',
      row.expiresAt + 2 * HOUR,
      10,
      () => new Promise((resolve) => (answer = resolve)),
    );
    row = { version: 4, live: true, expiresAt: row.expiresAt + HOUR };
    cache.invalidate('d'); // the change's notice
    await expect(cache.get('d', read)).resolves.toMatchObject({ data: '4' });
    answer(true);
    await touching;
    await expect(cache.get('d', read)).resolves.toMatchObject({ expiresAt: row.expiresAt });
  });
});
