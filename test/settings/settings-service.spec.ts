import fc from 'fast-check';
import { ApiError } from '../../src/http/api-error.js';
import { ErrorCode } from '../../src/http/error-codes.js';
import {
  type PreparedChange,
  SettingsEvent,
  type SettingsChangedEvent,
} from '../../src/settings/settings.events.js';
import {
  newTestSettingsService,
  PLAIN_ENVIRONMENT,
  type TestSettings,
} from '../factories/settings.js';

// SettingsService's own decisions, on an in-memory repository (test/factories/settings.ts):
// the queue, the compare-and-set, the preflight and prepare steps, failing listeners. The
// suites under test/settings/*.e2e.spec.ts check the same service against real databases.

/** A promise the test resolves when it wants: a call held in place. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

async function refusal(work: Promise<unknown>): Promise<ApiError> {
  const error = await work.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

/** A prepare listener's work, recording what the settings service did with it. */
function recordedPreparation(test: TestSettings) {
  const record = { committed: 0, aborted: [] as string[], versionAtCommit: -1 };
  const change: PreparedChange = {
    commit: async () => {
      record.committed += 1;
      record.versionAtCommit = test.settings.current.version;
    },
    abort: async (reason) => {
      record.aborted.push(reason);
    },
  };
  return { record, change };
}

describe('SettingsService', () => {
  let test: TestSettings;
  let changed: SettingsChangedEvent[];

  beforeEach(async () => {
    test = await newTestSettingsService();
    changed = [];
    test.listen(SettingsEvent.Changed, (event) => {
      changed.push(event);
    });
  });

  describe('one queue: versions applied in order', () => {
    it('runs changes and reloads one at a time, in the order they were asked for', async () => {
      const held = gate();
      const loadsBefore = test.repository.loads;
      test.repository.beforeLoad = () => held.opened;
      const first = test.settings.update({ siteName: 'First' }, 0, 'alice');
      const reload = test.settings.refresh();
      const second = test.settings.update({ siteName: 'Second' }, 1, 'bob');
      // Nothing moved while the first change waits on its read: the others queue behind it.
      await new Promise((resolve) => setImmediate(resolve));
      expect(test.repository.loads - loadsBefore).toBe(1);
      test.repository.beforeLoad = undefined;
      held.open();

      expect((await first).version).toBe(1);
      expect((await reload).version).toBe(1);
      expect((await second).version).toBe(2);
      expect(changed.map((event) => [event.next.version, event.next.values.siteName])).toEqual([
        [1, 'First'],
        [2, 'Second'],
      ]);
    });

    it('applies a change stored by another replica before checking its own against it', async () => {
      test.repository.storeElsewhere({ siteName: 'Elsewhere' });
      const error = await refusal(test.settings.update({ siteName: 'Mine' }, 0, 'alice'));
      expect(error.getStatus()).toBe(412);
      expect(error.code).toBe(ErrorCode.VersionConflict);
      // It caught up on the way: the other replica's change is in force here now.
      expect(test.settings.current).toMatchObject({
        version: 1,
        values: { siteName: 'Elsewhere' },
      });
      expect(changed.map((event) => event.origin)).toEqual(['remote']);
    });

    it('never applies version N after N+1, whatever the interleaving (property)', async () => {
      const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
      process.stdout.write(`settings queue property: seed ${seed} (replay: FC_SEED=${seed})\n`);
      const operation = fc.oneof(
        fc.record({
          kind: fc.constant('update' as const),
          stale: fc.boolean(),
          name: fc.string({ minLength: 1, maxLength: 8 }),
        }),
        fc.record({
          kind: fc.constant('elsewhere' as const),
          name: fc.string({ minLength: 1, maxLength: 8 }),
        }),
        fc.record({ kind: fc.constant('refresh' as const) }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(operation, fc.nat(3)), { minLength: 1, maxLength: 25 }),
          async (operations) => {
            const run = await newTestSettingsService();
            const versions: number[] = [];
            run.listen(SettingsEvent.Changed, async (event) => {
              versions.push(event.next.version);
              // Listeners that take a while: the next change must still wait for them.
              await new Promise((resolve) => setTimeout(resolve, event.next.version % 2));
            });
            const calls: Promise<unknown>[] = [];
            for (const [op, pause] of operations) {
              if (op.kind === 'elsewhere') run.repository.storeElsewhere({ siteName: op.name });
              else if (op.kind === 'refresh') calls.push(run.settings.refresh());
              else {
                const expected = run.repository.stored.version - (op.stale ? 1 : 0);
                calls.push(
                  run.settings.update({ siteName: op.name }, expected, 'prop').then(
                    (snapshot) => {
                      // Asking for the value already stored makes no new version: the answer
                      // is the snapshot at `expected` (FC_SEED=805987543 found it).
                      if (snapshot.version === expected) {
                        expect(snapshot.values.siteName).toBe(op.name);
                      } else {
                        expect(snapshot.version).toBe(expected + 1);
                      }
                    },
                    (error: unknown) => {
                      // A stale or overtaken expectation is a 412, never anything else.
                      expect(error).toBeInstanceOf(ApiError);
                      expect((error as ApiError).getStatus()).toBe(412);
                    },
                  ),
                );
              }
              if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause - 1));
            }
            await Promise.all(calls);
            await run.settings.refresh();
            for (let i = 1; i < versions.length; i++) {
              expect(versions[i]).toBeGreaterThan(versions[i - 1]!);
            }
            const stored = run.repository.stored;
            expect(run.settings.current.version).toBe(stored.version);
            expect(run.settings.current.values.siteName).toBe(stored.overrides.siteName ?? 'Keel');
          },
        ),
        { seed, numRuns: 60 },
      );
    });
  });

  describe('compare-and-set', () => {
    it('refuses a change another replica stored between the read and the write, and undoes what was prepared', async () => {
      const { record, change } = recordedPreparation(test);
      test.listen(SettingsEvent.Prepare, () => change);
      test.repository.beforeCompareAndSet = () => {
        test.repository.storeElsewhere({ siteName: 'Raced' });
      };
      const error = await refusal(test.settings.update({ siteName: 'Mine' }, 0, 'alice'));
      expect(error.getStatus()).toBe(412);
      expect(error.code).toBe(ErrorCode.VersionConflict);
      expect(record).toMatchObject({ committed: 0, aborted: ['another change was stored first'] });
      expect(test.repository.stored.overrides).toEqual({ siteName: 'Raced' });
      // Ours never went in force; the winner's arrives as any remote change does.
      expect(test.settings.current.version).toBe(0);
      expect(changed).toEqual([]);
    });

    it('undoes what was prepared when the write itself fails, and passes the failure on', async () => {
      const { record, change } = recordedPreparation(test);
      test.listen(SettingsEvent.Prepare, () => change);
      test.repository.beforeCompareAndSet = () => {
        throw new Error('connection terminated unexpectedly');
      };
      await expect(test.settings.update({ siteName: 'Mine' }, 0, 'alice')).rejects.toThrow(
        'connection terminated unexpectedly',
      );
      expect(record.aborted).toEqual([
        'the change could not be stored: connection terminated unexpectedly',
      ]);
      expect(test.settings.current.version).toBe(0);
      expect(test.repository.stored.version).toBe(0);
      // The queue is free again.
      test.repository.beforeCompareAndSet = undefined;
      expect((await test.settings.update({ siteName: 'Again' }, 0, 'alice')).version).toBe(1);
    });

    it('puts the new settings in force before the prepared work is committed', async () => {
      const { record, change } = recordedPreparation(test);
      test.listen(SettingsEvent.Prepare, () => change);
      await test.settings.update({ siteName: 'Mine' }, 0, 'alice');
      expect(record).toMatchObject({ committed: 1, aborted: [], versionAtCommit: 1 });
    });
  });

  describe('preflight', () => {
    it('refuses with the listener’s status and code; nothing prepared, stored or in force', async () => {
      const asked: string[][] = [];
      let prepared = 0;
      test.listen(SettingsEvent.Preflight, (event) => {
        asked.push([...event.changedKeys]);
        return { refuse: true, status: 409, code: ErrorCode.BackendNotShared, message: 'no' };
      });
      test.listen(SettingsEvent.Prepare, () => {
        prepared += 1;
      });
      const error = await refusal(
        test.settings.update({ sessionCache: { backend: 'redis' }, siteName: 'X' }, 0, 'alice'),
      );
      expect(error.getStatus()).toBe(409);
      expect(error.code).toBe(ErrorCode.BackendNotShared);
      expect(asked).toEqual([['siteName', 'sessionCache.backend']]);
      expect(prepared).toBe(0);
      expect(test.repository.stored.version).toBe(0);
      expect(test.settings.current.values.sessionCache.backend).toBe('memory');
    });

    it('answers a listener that throws with 422 backend_unavailable and its reason', async () => {
      test.listen(SettingsEvent.Preflight, () => {
        throw new Error('ECONNREFUSED 127.0.0.1:6379');
      });
      const error = await refusal(
        test.settings.update({ sessionCache: { backend: 'redis' } }, 0, 'alice'),
      );
      expect(error.getStatus()).toBe(422);
      expect(error.code).toBe(ErrorCode.BackendUnavailable);
      expect(error.message).toContain('ECONNREFUSED 127.0.0.1:6379');
    });

    it('asks nobody about a change that changes nothing', async () => {
      let asked = 0;
      test.listen(SettingsEvent.Preflight, () => {
        asked += 1;
      });
      const same = await test.settings.update({ siteName: 'Keel' }, 0, 'alice');
      expect(same.version).toBe(0);
      expect(asked).toBe(0);
      expect(changed).toEqual([]);
    });

    it('check() runs the preflight for the keys it names, even at their current value, and stores nothing', async () => {
      const asked: string[][] = [];
      test.listen(SettingsEvent.Preflight, (event) => {
        asked.push([...event.changedKeys]);
      });
      await test.settings.check({ sessionCache: { backend: 'memory' } }, 'settings');
      expect(asked).toEqual([['sessionCache.backend']]);
      expect(test.repository.stored.version).toBe(0);
      const invalid = await refusal(test.settings.check({ siteName: '' }, 'settings'));
      expect(invalid.fields?.map((field) => field.field)).toEqual(['settings.siteName']);
    });
  });

  describe('prepare', () => {
    it('undoes the work of the listeners that succeeded when one fails, and answers with its status', async () => {
      const { record, change } = recordedPreparation(test);
      test.listen(SettingsEvent.Prepare, () => change);
      test.listen(SettingsEvent.Prepare, () => ({
        failed: true,
        status: 503,
        code: ErrorCode.SwapFailed,
        message: 'Moving the sessions to redis failed',
      }));
      const error = await refusal(
        test.settings.update({ sessionCache: { backend: 'redis' } }, 0, 'alice'),
      );
      expect(error.getStatus()).toBe(503);
      expect(error.code).toBe(ErrorCode.SwapFailed);
      expect(record).toMatchObject({
        committed: 0,
        aborted: ['Moving the sessions to redis failed'],
      });
      expect(test.repository.stored.version).toBe(0);
      expect(test.settings.current.values.sessionCache.backend).toBe('memory');
    });
  });

  describe('listeners that fail after the change is stored', () => {
    it('keeps the change stored and in force, reports the failure, and still announces it', async () => {
      const committed: number[] = [];
      test.listen(SettingsEvent.Changed, () => {
        throw new Error('cache listener exploded');
      });
      test.listen(SettingsEvent.Committed, (event) => {
        committed.push(event.version);
      });
      const next = await test.settings.update({ siteName: 'Kept' }, 0, 'alice');
      expect(next.version).toBe(1);
      expect(test.settings.current.values.siteName).toBe('Kept');
      expect(test.repository.stored.version).toBe(1);
      expect(test.runtime.listenerFailures).toEqual([
        expect.objectContaining({ source: 'settings.changed', message: 'cache listener exploded' }),
      ]);
      expect(committed).toEqual([1]);
    });

    it('reports a commit that throws as a listener failure; the change stands', async () => {
      test.listen(SettingsEvent.Prepare, () => ({
        commit: () => Promise.reject(new Error('registry write failed')),
        abort: async () => undefined,
      }));
      await test.settings.update({ siteName: 'Kept' }, 0, 'alice');
      expect(test.settings.current.version).toBe(1);
      expect(test.runtime.listenerFailures).toEqual([
        expect.objectContaining({ source: 'settings.prepare', message: 'registry write failed' }),
      ]);
    });
  });

  describe('defaults from the environment', () => {
    const postgres = { dialect: 'postgres' as const, url: 'postgres://db/keel' };
    it.each([
      [
        'REDIS_URL set',
        { ...PLAIN_ENVIRONMENT, redisUrl: 'redis://cache', database: postgres },
        'redis',
      ],
      ['PostgreSQL, no Redis', { ...PLAIN_ENVIRONMENT, database: postgres }, 'database'],
      ['SQLite, no Redis', PLAIN_ENVIRONMENT, 'memory'],
      [
        'SESSION_CACHE_BACKEND over REDIS_URL',
        { redisUrl: 'redis://cache', database: postgres, sessionCacheBackend: 'database' as const },
        'database',
      ],
    ])(
      'puts the session cache on the shared backend it is given: %s',
      async (_, environment, backend) => {
        const { settings } = await newTestSettingsService({ environment });
        expect(settings.current.values.sessionCache.backend).toBe(backend);
        expect(settings.current.sources).toEqual({
          siteName: 'default',
          'sessionCache.backend': 'environment',
          'session.idleTimeoutSeconds': 'default',
          'session.absoluteTimeoutSeconds': 'default',
          'auth.loginMaxAttempts': 'default',
        });
      },
    );

    it('lets an override win over the environment, and null go back to it', async () => {
      const { settings } = await newTestSettingsService({
        environment: { ...PLAIN_ENVIRONMENT, redisUrl: 'redis://cache:6379', database: postgres },
      });
      const overridden = await settings.update({ sessionCache: { backend: 'database' } }, 0, 'a');
      expect(overridden.values.sessionCache.backend).toBe('database');
      expect(overridden.sources['sessionCache.backend']).toBe('override');
      const reset = await settings.update({ sessionCache: { backend: null } }, 1, 'a');
      expect(reset.values.sessionCache.backend).toBe('redis');
      expect(reset.sources['sessionCache.backend']).toBe('environment');
    });
  });

  describe('refresh', () => {
    it('gives up on a read past its deadline and frees the queue behind it', async () => {
      const hung = gate();
      test.repository.beforeLoad = () => hung.opened;
      const reading = test.settings.refresh({ readTimeoutMs: 30 });
      await expect(reading).rejects.toThrow(/timeout/);
      test.repository.beforeLoad = undefined;
      expect((await test.settings.update({ siteName: 'After' }, 0, 'alice')).version).toBe(1);
      hung.open();
    });

    it('counts only the read against the deadline, not the wait for its turn in the queue', async () => {
      const held = gate();
      test.listen(SettingsEvent.Changed, () => held.opened);
      const change = test.settings.update({ siteName: 'Slow listeners' }, 0, 'alice');
      const reading = test.settings.refresh({ readTimeoutMs: 30 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      held.open();
      await change;
      expect((await reading).version).toBe(1);
    });
  });
});
