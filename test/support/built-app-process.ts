import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Runs test/support/built-app-server.js (the built app, wired by the same serve() as
// dist/main.js, plus test-only routes) as a child process, for behaviour that needs a real
// process: signals, exit codes, process-wide error handlers. Needs `nest build` first.
const SERVER = join(import.meta.dirname, 'built-app-server.js');
/**
 * Keel's own entry point, with no test routes or knobs: what `npm start` and the Docker image
 * run, the bundle deploy/bundle.js makes of dist/.
 */
export const KEEL_MAIN = join(import.meta.dirname, '..', '..', 'dist', 'bundle', 'main.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process exited. */
  at: number;
}

export interface BuiltAppProcess {
  child: ChildProcess;
  url: string;
  /** Every JSON log line written so far. */
  logs: Record<string, unknown>[];
  exited: Promise<Exit>;
  /** SIGKILLs the process if it still runs; removes its working directory. */
  cleanup(): Promise<void>;
}

export async function startBuiltApp(
  env: Record<string, string> = {},
  options: { script?: string } = {},
): Promise<BuiltAppProcess> {
  const cwd = mkdtempSync(join(tmpdir(), 'keel-process-'));
  const child = spawn(process.execPath, [options.script ?? SERVER], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let pending = '';
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        const entry = parseLogLine(line);
        logs.push(entry);
        const listening = /^Keel listening on (http:\/\/\S+)$/.exec(String(entry.msg));
        if (listening) {
          clearTimeout(timer);
          resolve(listening[1]!);
        }
      }
    });
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${exit.code}) before listening: ${stderr}`));
    });
  });
  return {
    child,
    url,
    logs,
    exited,
    async cleanup() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  /** Date.now() when the response ended. */
  endedAt: number;
}

/** A request through `agent` (keep-alive or not); rejects on a connection error. */
export function send(
  url: string,
  options: { method?: string; agent?: http.Agent | false } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', agent: options.agent },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? (JSON.parse(text) as unknown) : undefined,
            endedAt: Date.now(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function parseLogLine(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { msg: line };
  }
}
