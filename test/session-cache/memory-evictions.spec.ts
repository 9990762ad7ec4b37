import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { MemorySessionBackend } from '../../src/session-cache/backends/memory-session.backend.js';
import { MemoryEvictions } from '../../src/session-cache/memory-evictions.js';

const HOUR = 3_600_000;

describe('a full memory backend', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('counts every eviction and says so in the log at most once a minute', async () => {
    jest.useFakeTimers({ now: Date.parse('2026-11-30T12:00:00Z'), doNotFake: ['nextTick'] });
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const evictions = new MemoryEvictions();
    const backend: MemorySessionBackend = new MemorySessionBackend({
      maxEntries: 10,
      onEvict: () => evictions.record(backend.maxEntries),
    });
    const put = (i: number) =>
      backend.put({
        sid: `sid-${i}`,
        data: '{}',
        userId: `user-${i}`,
        expiresAt: Date.now() + HOUR,
        lastSeenAt: Date.now(),
      });

    for (let i = 0; i < 25; i++) await put(i); // 15 evicted
    expect(evictions.total).toBe(15);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatchObject({
      msg: expect.stringMatching(/memory session backend is full \(10 sessions\): evicted 1 /),
    });

    jest.setSystemTime(Date.now() + 30_000);
    for (let i = 25; i < 30; i++) await put(i);
    expect(warn).toHaveBeenCalledTimes(1);

    jest.setSystemTime(Date.now() + 31_000);
    await put(30);
    expect(evictions.total).toBe(21);
    expect(warn).toHaveBeenCalledTimes(2);
    // The second line counts what was evicted since the first.
    expect(warn.mock.calls[1][0]).toMatchObject({
      sessionCache: { evicted: 20, evictedTotal: 21, maxEntries: 10 },
    });
  });
});
