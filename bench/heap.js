// Heap snapshots of a server under test, to find where its memory goes (read them with
// bench/support/heap-summary.js): one with --sessions sessions seeded, and with --requests one
// more after that many `me` requests. RSS is printed at each snapshot.
//
//   node bench/heap.js --server keel|baseline [--sessions 100000] [--requests 0] --out DIR
import { mkdirSync, mkdtempSync, readdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { load } from './support/load.js';
import { KEEL_BENCH_ENV, keelBenchServer } from './support/keel-bench-bundle.js';
import { pinSelf, rssMiB, startSeededServer } from './support/processes.js';

const { values: options } = parseArgs({
  options: {
    // tsc's files under dist/ instead of the bundle production runs (deploy/bundle.js).
    unbundled: { type: 'boolean', default: false },
    server: { type: 'string', default: 'keel' },
    sessions: { type: 'string', default: '100000' },
    requests: { type: 'string', default: '0' },
    out: { type: 'string' },
  },
});
if (!options.out) throw new Error('--out DIR: where the snapshots go');
const here = import.meta.dirname;
const out = options.out;
mkdirSync(out, { recursive: true });
pinSelf(1);

const scripts = {
  keel: await keelBenchServer(!options.unbundled),
  baseline: join(here, 'baseline/express-session-server.js'),
};
const script = scripts[options.server];
if (!script) throw new Error(`--server: keel or baseline, not ${options.server}`);

const dir = mkdtempSync(join(tmpdir(), 'keel-heap-'));
const server = await startSeededServer(script, {
  dir,
  sessions: options.sessions,
  nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`],
  env: {
    ...KEEL_BENCH_ENV,
    BENCH_BACKEND: 'memory',
  },
});
const { url, cookies } = server;

/** Writes a snapshot named `name`: the server answers again once V8 has written it. */
async function snapshot(name) {
  const rss = await rssMiB(server.pid);
  process.kill(server.pid, 'SIGUSR2');
  await sleep(500);
  await fetch(`${url}/api/auth/me`).then((r) => r.arrayBuffer());
  const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot'));
  const target = join(out, `${options.server}-${name}.heapsnapshot`);
  renameSync(join(dir, file), target);
  process.stdout.write(`${name}: RSS ${rss} MiB before the snapshot; ${target}\n`);
}

try {
  await sleep(500);
  await snapshot('seeded');
  const requests = Number(options.requests);
  if (requests > 0) {
    const result = await load(url, { cookies, amount: requests });
    await sleep(500);
    process.stdout.write(`load: ${result.rps} req/s, ${result.non2xx + result.errors} failed\n`);
    await snapshot(`after-${requests}`);
  }
} finally {
  await server.stop();
}
