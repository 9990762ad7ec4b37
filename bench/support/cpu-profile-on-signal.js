// For bench/profile.js: with BENCH_CPU_PROFILE=<file>, the first SIGUSR2 starts V8's CPU
// profiler in this process and the second writes the profile to that file, so the profile
// covers the measured load only (not start-up, seeding or warm-up). With BENCH_HEAP_SAMPLING=<file>
// too, V8's sampling heap profiler runs alongside, its profile written to that file (collected
// objects included; with BENCH_HEAP_SURVIVORS set, only those that outlived a young-generation
// collection).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export function profileOnSignal() {
  const file = process.env.BENCH_CPU_PROFILE;
  if (!file) return;
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', async () => {
    if (!running) {
      running = true;
      if (process.env.BENCH_HEAP_SAMPLING) {
        await session.post('HeapProfiler.enable');
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: 1024,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: !process.env.BENCH_HEAP_SURVIVORS,
        });
      }
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
      return;
    }
    running = false;
    const { profile } = await session.post('Profiler.stop');
    if (process.env.BENCH_HEAP_SAMPLING) {
      const { profile: heap } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(process.env.BENCH_HEAP_SAMPLING, JSON.stringify(heap));
    }
    writeFileSync(file, JSON.stringify(profile));
    process.stdout.write('BENCH_PROFILE_WRITTEN\n');
  });
}
