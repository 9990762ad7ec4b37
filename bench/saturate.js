// One Keel build, one session backend, driven to saturation: `GET /api/auth/me` req/s with the
// server pinned to core 0 and its CPU full, and what `perf stat` counts for the server process
// meanwhile (task clock, context switches, page faults). A diagnostic, not a comparison: it is
// how docs/performance.md ("Evening (2026-12-01)") found that a read answered at once cost more
// than one answered on the check phase (true only while Express's prototype switch ran: "Night
// (2026-12-01)"). Compare two builds by running it on each, turn about.
//
//   node bench/saturate.js [--backend memory|redis|database] [--server path/to/keel-bench-server.js]
//                          [--seconds 8] [--record perf.data --event cpu-clock] [-- node flags]
//
// Needs Linux `perf` (Debian: linux-perf), and Redis (REDIS_URL) for `--backend redis` only.
// `--record` runs `perf record` instead of `perf stat`; add `-- --perf-basic-prof` so that
// `perf report` names JavaScript functions. Everything after `--` goes to the server's node.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { load } from './support/load.js';
import { KEEL_BENCH_ENV } from './support/keel-bench-bundle.js';
import { pinSelf, startSeededServer } from './support/processes.js';
import { clearRedisPrefix } from './support/redis.js';

const { values: options, positionals: nodeArgs } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: 'string', default: 'memory' },
    server: { type: 'string', default: join(import.meta.dirname, 'support/keel-bench-server.js') },
    seconds: { type: 'string', default: '8' },
    record: { type: 'string' },
    event: { type: 'string', default: 'cpu-clock' },
  },
});
const SECONDS = options.seconds;
if (!/^[1-9]\d*$/.test(SECONDS))
  throw new Error(`--seconds: a whole number of seconds, not ${SECONDS}`);
const onRedis = options.backend === 'redis';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `keel-saturate-${process.pid}:`;
pinSelf(1);

const server = await startSeededServer(options.server, {
  sessions: 1000,
  nodeArgs,
  env: {
    PORT: '0',
    HOST: '127.0.0.1',
    ...KEEL_BENCH_ENV,
    BENCH_BACKEND: options.backend,
    ...(onRedis ? { REDIS_URL, REDIS_PREFIX: prefix } : {}),
  },
});
try {
  await load(server.url, { cookies: server.cookies, duration: 3 });
  const target = ['-p', String(server.pid), '--', 'sleep', SECONDS];
  const perfArgs = options.record
    ? ['record', '-e', options.event, '-o', options.record, ...target]
    : ['stat', '-e', 'task-clock,context-switches,page-faults', ...target];
  const perf = spawn('perf', perfArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let counters = '';
  perf.stderr.on('data', (chunk) => (counters += chunk));
  const exited = new Promise((resolve, reject) => {
    perf.on('error', reject); // no perf installed
    perf.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`perf exited ${code}: ${counters}`)),
    );
  });
  const [result] = await Promise.all([
    load(server.url, { cookies: server.cookies, duration: Number(SECONDS) }),
    exited,
  ]);
  process.stdout.write(
    `${options.backend}, ${options.server}: ${result.rps} req/s, ${result.requests} requests, ` +
      `${result.non2xx + result.errors} failed\n${counters}`,
  );
} finally {
  await server.stop();
  if (onRedis) await clearRedisPrefix(REDIS_URL, prefix);
}
