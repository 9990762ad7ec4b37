// For bench/profile.js: with BENCH_CPU_PROFILE=<file>, the first SIGUSR2 starts V8's CPU
// profiler in this process and the second writes the profile to that file, so the profile
// covers the measured load only (not start-up, seeding or warm-up).
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
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
      return;
    }
    running = false;
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    process.stdout.write('BENCH_PROFILE_WRITTEN\n');
  });
}
