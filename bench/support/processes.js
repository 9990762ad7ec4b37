// Starting and stopping the servers under test, pinned to a core when taskset exists.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HAS_TASKSET = spawnSync('taskset', ['--version']).status === 0;

/**
 * The environment a server under test starts with: this process's, without DATABASE_URL, then
 * `env`. A case on PostgreSQL names its own fresh database; the DATABASE_URL a benchmark is run
 * with only says which server to make it on (support/postgres.js). Inherited, it would put the
 * cases meant for SQLite on that database, one that is already set up (no first-run setup to time).
 */
export function serverEnvironment(env) {
  const { DATABASE_URL: _server, ...inherited } = process.env;
  return { ...inherited, ...env };
}

/** Pins this process (the load generator), all its threads, to `core`: the server gets the other. */
export function pinSelf(core) {
  if (HAS_TASKSET) spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)]);
}

/**
 * Starts `node script` on `core` and resolves once it prints `readyPrefix {json}` on stdout,
 * with that JSON and a stop() that sends SIGTERM and waits for the exit.
 */
export async function startServer(
  script,
  { env = {}, core = 0, readyPrefix = 'BENCH_READY', args = [], nodeArgs = [] } = {},
) {
  const command = HAS_TASKSET ? 'taskset' : process.execPath;
  const node = [...nodeArgs, script, ...args];
  const argv = HAS_TASKSET ? ['-c', String(core), process.execPath, ...node] : node;
  const child = spawn(command, argv, {
    env: serverEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const keepStderr = (chunk) => (stderr = (stderr + chunk).slice(-10_000));
  child.stderr.on('data', keepStderr);
  let onStdout;
  const info = await new Promise((resolve, reject) => {
    let buffer = '';
    onStdout = (chunk) => {
      buffer += chunk;
      const line = buffer.split('\n').find((l) => l.startsWith(`${readyPrefix} `));
      if (line) resolve(JSON.parse(line.slice(readyPrefix.length + 1)));
    };
    child.stdout.on('data', onStdout);
    // Keel logs to stdout, so a failed start says why there, not on stderr.
    child.once('exit', (code) =>
      reject(
        new Error(
          `${script} exited with ${code} before it was ready:\n${buffer.slice(-5_000)}\n${stderr}`,
        ),
      ),
    );
  });
  // From here on the output is drained unread: Keel logs a line per request, and keeping (and
  // re-scanning) it would load the benchmark process, which is also the load generator.
  child.stdout.off('data', onStdout);
  child.stdout.resume();
  return {
    ...info,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * Starts a bench server (Keel's or a baseline's) with `sessions` signed-in sessions seeded, its
 * data in a directory of its own (`dir`, made here unless given), and reads the cookies it wrote.
 * Resolves to startServer's answer plus `url`, `cookies` (none for a server that seeds nothing,
 * such as raw node:http), `dir`, and a stop() that also removes the directory.
 */
export async function startSeededServer(
  script,
  { sessions, env = {}, nodeArgs = [], dir = mkdtempSync(join(tmpdir(), 'keel-bench-')) },
) {
  const cookiesFile = join(dir, 'cookies.json');
  const server = await startServer(script, {
    nodeArgs,
    env: {
      DATA_DIR: dir,
      ...env,
      BENCH_SEED_SESSIONS: String(sessions),
      BENCH_COOKIES_FILE: cookiesFile,
    },
  });
  return {
    ...server,
    url: `http://127.0.0.1:${server.port}`,
    cookies: existsSync(cookiesFile) ? JSON.parse(readFileSync(cookiesFile, 'utf8')) : [],
    dir,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CPU time (user + system) a process has used, in microseconds (Linux /proc, 100 ticks/s). */
export function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Resident set size of a process, in MiB (Linux /proc). */
export async function rssMiB(pid) {
  return (await memoryMiB(pid)).rss;
}

/** Resident set size now and its peak so far (VmHWM), in MiB (Linux /proc). */
export async function memoryMiB(pid) {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const mib = (field) =>
    Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024);
  return { rss: mib('VmRSS'), peak: mib('VmHWM') };
}

/**
 * A port nothing listens on now. A random one can collide with other work, or with the local
 * end of one of this process's own connections (those take ports in the same range).
 */
export async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}
