// Starting and stopping the servers under test, pinned to a core when taskset exists.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';

export const HAS_TASKSET = spawnSync('taskset', ['--version']).status === 0;

/** Pins this process (the load generator) to `core`, so the server gets the other one. */
export function pinSelf(core) {
  if (HAS_TASKSET) spawnSync('taskset', ['-p', '-c', String(core), String(process.pid)]);
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
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const info = await new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const line = buffer.split('\n').find((l) => l.startsWith(`${readyPrefix} `));
      if (line) resolve(JSON.parse(line.slice(readyPrefix.length + 1)));
    });
    child.once('exit', (code) =>
      reject(new Error(`${script} exited with ${code} before it was ready: ${stderr}`)),
    );
  });
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

/** Resident set size of a process, in MiB (Linux /proc). */
export async function rssMiB(pid) {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}
