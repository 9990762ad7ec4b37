import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// These run the built server (dist/bundle/main.js, what `npm start` and the image run, made by
// `npm test`'s build step) as an operator
// would, from a clean working directory.
const MAIN = join(import.meta.dirname, '..', 'dist', 'bundle', 'main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runMain(env: Record<string, string>, untilOutput?: RegExp): Promise<Run> {
  const cwd = mkdtempSync(join(tmpdir(), 'keel-boot-'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (untilOutput?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

describe('booting the server', () => {
  it('PORT=abc exits non-zero with one line naming PORT, no stack trace', async () => {
    const run = await runMain({ PORT: 'abc' });
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim()).toBe(
      'Invalid environment: PORT must be an integer from 0 to 65535 (got "abc")',
    );
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /);
  });

  it('DATABASE_URL=mysql://x exits non-zero naming DATABASE_URL', async () => {
    const run = await runMain({ DATABASE_URL: 'mysql://x' });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^Invalid environment: DATABASE_URL must be/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('serves on the embedded defaults and logs where it listens', async () => {
    const run = await runMain({ PORT: '0', HOST: '127.0.0.1' }, /Keel listening on http:\/\//);
    expect(run.stdout).toMatch(/Keel listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(run.stdout).toMatch(/Applied migrations/);
  });
});
