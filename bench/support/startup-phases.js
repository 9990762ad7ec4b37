// Where Keel's start-up time goes: starts the built app as bench/ops.js does (pinned to core 0,
// NODE_ENV=production, unattended setup, a fresh SQLite DATA_DIR or a fresh PostgreSQL
// database), with startup-marks.js preloaded, and prints the median of each phase, from the
// spawn to the first 200 of /health/ready.
//
//   node bench/support/startup-phases.js [--runs 5] [--db sqlite|postgres|both] [--dist dist]...
//     [--no-setup] [--cpu-prof]
//
// Several --dist (two builds) take turns run by run, so the machine's drift hits them alike.
// --cpu-prof adds a CPU profile of the last run of each database, its self time split by phase
// and by package. The marks' wrappers cost a little: use bench/ops.js --only startup for the
// figure itself.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { median } from './load.js';
import { freshPostgresDatabase } from './postgres.js';
import { KEEL_BENCH_ENV } from './keel-bench-bundle.js';
import { HAS_TASKSET, freePort, pinSelf, serverEnvironment } from './processes.js';

const { values: options } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    db: { type: 'string', default: 'both' },
    dist: { type: 'string', multiple: true, default: [join(import.meta.dirname, '../../dist')] },
    'no-setup': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const RUNS = Number(options.runs);
const builds = options.dist.map((dist) => join(resolve(dist), 'main.js'));
const marksPreload = join(import.meta.dirname, 'startup-marks.js');
pinSelf(1);

const keelEnv = {
  ...KEEL_BENCH_ENV,
  ...(options['no-setup']
    ? {}
    : { KEEL_ADMIN_USERNAME: 'bench-admin', KEEL_ADMIN_PASSWORD: 'bench password 123456' }),
};

/**
 * CPU time (user + system, every thread) a process has used, in ms: on a busy machine it moves
 * far less than the wall time, and pinned to one core it is what the wall time would be on a
 * quiet one, less any wait for the database.
 */
function cpuTimeMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One start-up: the marks, on a timeline in ms from the spawn, and the profile if asked. */
async function startOnce(main, env, profile) {
  const dir = mkdtempSync(join(tmpdir(), 'keel-phases-'));
  const marksFile = join(dir, 'marks.json');
  const port = await freePort();
  const profileArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  const node = [...profileArgs, '--import', marksPreload, main];
  const spawnedAt = performance.timeOrigin + performance.now();
  const child = spawn(
    HAS_TASKSET ? 'taskset' : process.execPath,
    HAS_TASKSET ? ['-c', '0', process.execPath, ...node] : node,
    {
      env: serverEnvironment({
        ...keelEnv,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: join(dir, 'data'),
        STARTUP_MARKS_FILE: marksFile,
        ...env,
      }),
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  try {
    let readyAt;
    let cpuMs;
    while (readyAt === undefined) {
      const status = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) {
        readyAt = performance.timeOrigin + performance.now();
        cpuMs = cpuTimeMs(child.pid);
      } else if (child.exitCode !== null) throw new Error(`Keel exited with ${child.exitCode}`);
      else await sleep(2);
    }
    child.kill('SIGTERM');
    await once(child, 'exit');
    const marks = JSON.parse(readFileSync(marksFile, 'utf8'));
    const at = (ms) => marks.timeOrigin + ms - spawnedAt;
    const timeline = {
      ready: readyAt - spawnedAt,
      cpuMs,
      marks,
      at,
      profile: profile
        ? JSON.parse(
            readFileSync(
              join(
                dir,
                readdirSync(dir).find((f) => f.endsWith('.cpuprofile')),
              ),
            ),
          )
        : undefined,
    };
    return timeline;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The phases of one start-up, in ms; hooks and scrypt as their own rows. */
function phasesOf({ ready, cpuMs, marks, at }) {
  const span = (name) => marks.spans.find((s) => s.name === name);
  const nestCore = span('@nestjs/core import (preload)');
  const create = span('NestFactory.create (scan, DI)');
  const steps = [
    'registerModules',
    'registerRouter',
    'callInitHook',
    'registerRouterHooks',
    'callBootstrapHook',
  ].map(span);
  const initStart = steps[0].start;
  const bootstrapEnd = steps[4].end;
  const rows = {
    'node start (spawn to preload)': at(marks.preloadAt),
    'imports: @nestjs/core': nestCore.end - nestCore.start,
    'imports: the rest (main.js and its graph)': marks.createAt - nestCore.end,
    'NestFactory.create (scan, DI)': create.end - create.start,
    'configureApp (middleware, docs)': marks.listenAt - create.end,
    'init: before hooks (adapter, optional modules)': initStart - marks.listenAt,
    'init: registerModules (middleware)': steps[0].end - steps[0].start,
    'init: registerRouter (routes)': steps[1].end - steps[1].start,
    'init: onModuleInit hooks': steps[2].end - steps[2].start,
    'init: registerRouterHooks': steps[3].end - steps[3].start,
    'init: onApplicationBootstrap hooks': steps[4].end - steps[4].start,
    'listen (bind)': marks.listenedAt - bootstrapEnd,
    'serve() to the first /health/ready 200 seen': ready - at(marks.listenedAt),
  };
  const detail = {};
  for (const hook of marks.hooks) {
    if (hook.name.endsWith('onApplicationBootstrap') && hook.end - hook.start >= 1) {
      detail[`  ${hook.name}`] = (detail[`  ${hook.name}`] ?? 0) + hook.end - hook.start;
    }
  }
  for (const s of marks.scrypt) detail['  scrypt (thread pool)'] = s.end - s.start;
  return { total: ready, cpuMs, rows, detail };
}

function packageOf(url, functionName) {
  if (!url) return functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
  const nodeModule = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nodeModule) return nodeModule[1];
  if (url.includes('/dist/')) return `keel dist/${url.split('/dist/')[1].split('/')[0]}`;
  return url.startsWith('node:') ? url : 'other';
}

/** Self time of a CPU profile by phase and by package, ms. */
function profileByPhase({ marks, profile }) {
  const toProfileUs = (ms) => marks.hrtimeUs + (ms - marks.hrtimeAt) * 1000;
  const span = (name) => marks.spans.find((s) => s.name === name);
  const bounds = [
    ['imports', toProfileUs(marks.createAt)],
    ['NestFactory.create', toProfileUs(span('NestFactory.create (scan, DI)').end)],
    ['configureApp', toProfileUs(marks.listenAt)],
    ['init and hooks', toProfileUs(span('callBootstrapHook').end)],
    ['listen', toProfileUs(marks.listenedAt)],
  ];
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const table = new Map();
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i];
    const phase = bounds.find(([, end]) => time <= end)?.[0];
    if (!phase) continue;
    const { url, functionName } = nodes.get(profile.samples[i]).callFrame;
    const key = `${phase}\t${packageOf(url, functionName)}`;
    table.set(key, (table.get(key) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  }
  return [...table].sort((a, b) => b[1] - a[1]);
}

const round = (ms) => Math.round(ms);
const cases = [];
if (options.db !== 'postgres') cases.push(['SQLite', async () => ({ env: {}, drop: () => {} })]);
if (options.db !== 'sqlite') {
  cases.push([
    'PostgreSQL',
    async (run) => {
      const database = await freshPostgresDatabase(`keel_phases_${process.pid}_${run}`);
      return { env: { DATABASE_URL: database.url }, drop: database.drop };
    },
  ]);
}
const results = {};
const profiles = {};
for (let run = 0; run < RUNS; run++) {
  for (const [database, prepare] of cases) {
    for (const main of builds) {
      const name = `${database}: ${main}`;
      const { env, drop } = await prepare(run);
      try {
        const profile = options['cpu-prof'] && run === RUNS - 1;
        const timeline = await startOnce(main, env, profile).catch((error) => {
          // One lost run (a port taken meanwhile, marks not written) is noted, not fatal.
          process.stderr.write(`${name}, run ${run + 1} skipped: ${error.message}\n`);
          return undefined;
        });
        if (!timeline?.marks.listenedAt) continue;
        (results[name] ??= []).push(phasesOf(timeline));
        if (profile) profiles[name] = profileByPhase(timeline);
      } finally {
        await drop();
      }
    }
  }
}

for (const [name, runs] of Object.entries(results)) {
  const range = (values) =>
    `median ${round(median(values))} ms (${round(Math.min(...values))}-${round(Math.max(...values))})`;
  process.stdout.write(
    `\n${name}, ${RUNS} runs, spawn to first /health/ready 200: ${range(runs.map((r) => r.total))}; CPU time used by then: ${range(runs.map((r) => r.cpuMs))}\n\n| phase | ms (median) |\n|---|---|\n`,
  );
  for (const key of [...Object.keys(runs[0].rows), ...Object.keys(runs[0].detail)]) {
    const values = runs.map((r) => r.rows[key] ?? r.detail[key] ?? 0);
    process.stdout.write(`| ${key} | ${round(median(values))} |\n`);
  }
  if (profiles[name]) {
    process.stdout.write(
      `\nCPU profile (last run, with the profiler's own cost), self ms by phase and package:\n`,
    );
    for (const [key, ms] of profiles[name].filter(([, ms]) => ms >= 5)) {
      process.stdout.write(`  ${ms.toFixed(0).padStart(5)}  ${key.replace('\t', '  ')}\n`);
    }
  }
}
