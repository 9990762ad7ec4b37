// Preloaded by bench/ops.js's memory runs into the server under test, with --expose-gc
// (`node --expose-gc --import .../collect-on-signal.js server.js`): SIGUSR2 runs a full
// collection. RSS read at an arbitrary moment includes whatever garbage V8 has not collected yet,
// and when the next full collection comes depends on the process's history (the limit V8 sets
// after each one), so two processes holding the same live heap can differ by 50 MiB. RSS read
// right after a full collection in both Keel and the baseline is what each keeps.
// (bench/profile.js uses SIGUSR2 for the CPU profiler; the two are never preloaded together.)
process.on('SIGUSR2', () => globalThis.gc());
