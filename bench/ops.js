// Operational figures, each against a baseline measured in the same run:
// - start-up: process start to /health/ready 200, on SQLite and on PostgreSQL, first-run setup
//   completed unattended from KEEL_ADMIN_PASSWORD (hashed at start) and from a ready
//   KEEL_ADMIN_PASSWORD_HASH (raw node:http baseline: start to its first 200);
// - probe under load: /health/live p99 while `me` runs at about 80% of Keel's capacity, against
//   the same probe on an idle server;
// - memory: RSS with 100,000 sessions on the memory backend, then after --requests requests
//   (the figure is 1,000,000: `--requests 1000000`), against the Express baseline and
//   the feature-equivalent stack (baseline/feature-stack-server.js), both on MemoryStore; each
//   read as it stands, right after a full collection (what the process keeps; see
//   support/collect-on-signal.js), right after a memory-reducing one (without the freed pages
//   Node 24's V8 pools), and at its peak so far.
//
//   node bench/ops.js [--runs 3] [--requests 200000] [--only startup|probe|memory]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { load, median } from './support/load.js';
import { freshPostgresDatabase } from './support/postgres.js';
import { KEEL_BENCH_ENV, keelBenchServer } from './support/keel-bench-bundle.js';
import {
  HAS_TASKSET,
  freePort,
  memoryMiB,
  pinSelf,
  serverEnvironment,
  startSeededServer,
} from './support/processes.js';

const { values: options } = parseArgs({
  options: {
    // tsc's files under dist/ instead of the bundle production runs (deploy/bundle.js).
    unbundled: { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    requests: { type: 'string', default: '200000' },
    // One figure alone: the memory run after 1,000,000 requests takes a quarter of an hour.
    only: { type: 'string' },
  },
});
const ONLY = options.only;
if (ONLY && !['startup', 'probe', 'memory'].includes(ONLY)) {
  throw new Error(`--only: startup, probe or memory, not ${ONLY}`);
}
const wanted = (figure) => !ONLY || ONLY === figure;
const RUNS = Number(options.runs);
const REQUESTS = Number(options.requests);
const here = import.meta.dirname;
const root = join(here, '..');
pinSelf(1);

/** Milliseconds from spawning `script` until `path` answers 200. */
async function timeToReady(script, env, path) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-start-'));
  const port = await freePort();
  const started = performance.now();
  const command = HAS_TASKSET ? 'taskset' : process.execPath;
  const args = HAS_TASKSET ? ['-c', '0', process.execPath, script] : [script];
  const child = spawn(command, args, {
    env: serverEnvironment({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
  try {
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port}${path}`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return Math.round(performance.now() - started);
      if (child.exitCode !== null) {
        throw new Error(`${script} exited with ${child.exitCode}: ${stderr}`);
      }
      if (performance.now() - started > 60000) throw new Error(`${script} not ready in 60 s`);
      await sleep(10);
    }
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const keelEnv = {
  ...KEEL_BENCH_ENV,
  KEEL_ADMIN_USERNAME: 'bench-admin',
  KEEL_ADMIN_PASSWORD: 'bench password 123456',
};

/**
 * The starts timed, by name. Production runs the bundle (deploy/bundle.js); tsc's dist/main.js
 * is timed in the same rounds to show what the bundle saves. The bundle also starts with the
 * admin's password as a ready hash (what `npm run hash-password` prints), made once here: no
 * scrypt at start.
 */
async function startVariants() {
  const { PasswordHasher } = await import(join(root, 'dist/users/password-hasher.js'));
  const { KEEL_ADMIN_PASSWORD, ...withoutPassword } = keelEnv;
  const withHash = {
    ...withoutPassword,
    KEEL_ADMIN_PASSWORD_HASH: await new PasswordHasher().hash(KEEL_ADMIN_PASSWORD),
  };
  return {
    bundle: { entry: join(root, 'dist/bundle/main.js'), env: keelEnv },
    bundleHash: { entry: join(root, 'dist/bundle/main.js'), env: withHash },
    unbundled: { entry: join(root, 'dist/main.js'), env: keelEnv },
  };
}

const startup = { baseline: [] };
const starts = wanted('startup') ? await startVariants() : {};
for (const name of Object.keys(starts)) startup[name] = { sqlite: [], postgres: [] };
for (let run = 0; wanted('startup') && run < RUNS; run++) {
  startup.baseline.push(await timeToReady(join(here, 'baseline/raw-http-server.js'), {}, '/'));
  for (const [name, { entry, env }] of Object.entries(starts)) {
    startup[name].sqlite.push(await timeToReady(entry, env, '/health/ready'));
    const database = await freshPostgresDatabase(`keel_bench_start_${process.pid}_${run}`);
    try {
      startup[name].postgres.push(
        await timeToReady(entry, { ...env, DATABASE_URL: database.url }, '/health/ready'),
      );
    } finally {
      await database.drop();
    }
  }
}

async function withSessions(script, sessions, env, work, nodeArgs = []) {
  const server = await startSeededServer(script, { sessions, env, nodeArgs });
  try {
    return await work(server, server.url, server.cookies);
  } finally {
    await server.stop();
  }
}

async function probeP99(url, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await fetch(`${url}/health/live`).then((r) => r.arrayBuffer());
    times.push(performance.now() - started);
    await sleep(5);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length * 0.99)] * 10) / 10;
}

const keelServer = await keelBenchServer(!options.unbundled);
const probe = !wanted('probe')
  ? undefined
  : await withSessions(keelServer, 1000, keelEnv, async (_server, url, cookies) => {
      const idle = await probeP99(url, 300);
      const capacity = (await load(url, { cookies, duration: 5 })).rps;
      const underLoad = load(url, {
        cookies,
        duration: 8,
        overallRate: Math.round(capacity * 0.8),
      });
      await sleep(1000);
      const loaded = await probeP99(url, 300);
      const api = await underLoad;
      return { idle, loaded, capacity, apiRps: api.rps };
    });

const memory = {};
// The memory backend whatever the environment (with REDIS_URL set, Keel would start on redis).
for (const [name, script, env] of !wanted('memory')
  ? []
  : [
      ['baseline', join(here, 'baseline/express-session-server.js'), { BASELINE_STORE: 'memory' }],
      ['stack', join(here, 'baseline/feature-stack-server.js'), { BASELINE_STORE: 'memory' }],
      ['keel', keelServer, { ...keelEnv, BENCH_BACKEND: 'memory' }],
    ]) {
  const heapFile = join(mkdtempSync(join(tmpdir(), 'keel-heap-')), 'heap-used');
  memory[name] = await withSessions(
    script,
    100000,
    { ...env, BENCH_HEAP_FILE: heapFile },
    async (server, url, cookies) => {
      await sleep(500);
      const seeded = await readMemory(server.pid, heapFile);
      const result = await load(url, { cookies, amount: REQUESTS });
      await sleep(500);
      return {
        seeded,
        afterRequests: await readMemory(server.pid, heapFile),
        failed: result.non2xx + result.errors,
      };
    },
    ['--expose-gc', '--import', join(here, 'support/collect-on-signal.js')],
  );
  rmSync(dirname(heapFile), { recursive: true, force: true });
}

/**
 * RSS as it stands, right after a full collection (and the JS heap then used), then right after
 * a memory-reducing one, and the peak so far (MiB). See support/collect-on-signal.js.
 */
async function readMemory(pid, heapFile) {
  const { rss: sampled } = await memoryMiB(pid);
  process.kill(pid, 'SIGUSR2');
  // The collection runs on the server's next turn, and V8 hands freed pages back to the system
  // once sweeping (concurrent) has finished.
  await sleep(1000);
  const { rss: collected, peak } = await memoryMiB(pid);
  const heapUsed = Number(readFileSync(heapFile, 'utf8'));
  process.kill(pid, 'SIGWINCH');
  await sleep(1000);
  const { rss: reduced } = await memoryMiB(pid);
  return { sampled, collected, heapUsed, reduced, peak };
}

const ms = (values) => median(values);
const lines = [`Operational figures on Node ${process.version}, median of ${RUNS} start-ups`, ''];
const timingLines = ['| figure | Keel | baseline | ratio |', '|---|---|---|---|'];
if (wanted('startup')) {
  const base = ms(startup.baseline);
  for (const [name, label] of [
    ['bundle', 'bundle'],
    ['bundleHash', 'bundle, KEEL_ADMIN_PASSWORD_HASH'],
    ['unbundled', 'dist/main.js unbundled'],
  ]) {
    for (const [db, dbLabel] of [
      ['sqlite', 'SQLite'],
      ['postgres', 'PostgreSQL'],
    ]) {
      const keel = ms(startup[name][db]);
      timingLines.push(
        `| start-up to ready, ${dbLabel}, ${label} (ms) | ${keel} | ${base} (raw node:http to first 200) | ${(keel / base).toFixed(1)}x |`,
      );
    }
  }
}
if (probe) {
  timingLines.push(
    `| /health/live p99 with me at 80% of capacity (ms) | ${probe.loaded} | ${probe.idle} (same probe, idle) | ${(probe.loaded / probe.idle).toFixed(1)}x |`,
  );
}
if (wanted('startup') || probe) lines.push(...timingLines, '');
if (wanted('memory')) {
  const { keel, baseline, stack } = memory;
  // Each reading against both: the bare baseline (issue 20's target) and the same features
  // assembled by hand, whose sessions also hold a CSRF token and whose fixed part also loads a
  // logger, metrics, security headers and a database driver.
  const row = (label, read) => {
    const [k, b, f] = [read(keel), read(baseline), read(stack)];
    return `| ${label} (MiB) | ${k} | ${b} | ${(k / b).toFixed(2)}x | ${f} | ${(k / f).toFixed(2)}x |`;
  };
  const after = `after ${REQUESTS.toLocaleString('en')} requests`;
  lines.push(
    '| figure | Keel | Express + MemoryStore | Keel / it | feature stack + MemoryStore | Keel / it |',
    '|---|---|---|---|---|---|',
    row('RSS with 100,000 sessions, as it stands', (m) => m.seeded.sampled),
    row('RSS with 100,000 sessions, after a full collection', (m) => m.seeded.collected),
    row('RSS with 100,000 sessions, after a memory-reducing collection', (m) => m.seeded.reduced),
    row('peak RSS while seeding 100,000 sessions', (m) => m.seeded.peak),
    row('JS heap used with 100,000 sessions, after a full collection', (m) => m.seeded.heapUsed),
    row(`RSS ${after}, as it stands`, (m) => m.afterRequests.sampled),
    row(`RSS ${after}, after a full collection`, (m) => m.afterRequests.collected),
    row(`RSS ${after}, after a memory-reducing collection`, (m) => m.afterRequests.reduced),
    row(`peak RSS, seeding and ${after}`, (m) => m.afterRequests.peak),
    row(`JS heap used ${after}, after a full collection`, (m) => m.afterRequests.heapUsed),
    '',
  );
}
if (probe) {
  lines.push(
    `capacity measured for the probe case: ${probe.capacity} req/s; load during the probe: ${probe.apiRps} req/s`,
  );
}
if (wanted('memory')) {
  lines.push(
    `failed requests in the memory runs: keel ${memory.keel.failed}, baseline ${memory.baseline.failed}, feature stack ${memory.stack.failed}`,
  );
}
process.stdout.write(
  `${lines.join('\n')}\n\nJSON ${JSON.stringify({ startup, probe, memory, requests: REQUESTS })}\n`,
);
