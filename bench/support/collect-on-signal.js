// Preloaded by bench/ops.js's memory runs into the server under test, with --expose-gc
// (`node --expose-gc --import .../collect-on-signal.js server.js`): SIGUSR2 runs a full
// collection. RSS read at an arbitrary moment includes whatever garbage V8 has not collected yet,
// and when the next full collection comes depends on the process's history (the limit V8 sets
// after each one), so two processes holding the same live heap can differ by 50 MiB. RSS read
// right after a full collection in both Keel and the baseline is what each keeps.
//
// SIGWINCH runs a memory-reducing one (V8's last-resort flavor, what it does when the heap is
// near its limit). Node 24's V8 keeps the pages a full collection freed in a pool for reuse, and
// RSS counts them: in Keel, after seeding, about 140 MiB of them (docs/performance.md, "Memory on
// Node 24"). A memory-reducing collection hands them back, so the two readings together separate
// what the process keeps from what V8 holds on to. On a Node whose gc() takes no flavor it is an
// ordinary full collection.
// (bench/profile.js uses SIGUSR2 for the CPU profiler; the two are never preloaded together.)
//
// With BENCH_HEAP_FILE, each full collection writes the heap V8 still uses right after it (MiB)
// to that file: on Node 20, RSS after a full collection also counts old-space pages the
// collection did not compact, which vary from run to run (docs/performance.md, "Second session
// (2026-12-02)"); the heap used does not.
import { writeFileSync } from 'node:fs';

process.on('SIGUSR2', () => {
  globalThis.gc();
  if (process.env.BENCH_HEAP_FILE) {
    const heapUsed = Math.round(process.memoryUsage().heapUsed / 1048576);
    writeFileSync(process.env.BENCH_HEAP_FILE, String(heapUsed));
  }
});
process.on('SIGWINCH', () =>
  globalThis.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }),
);
