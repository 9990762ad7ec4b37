import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

// Keel's stdout destination (src/logging/stdout-destination.ts, built) in a process of its own
// whose stdout is a pipe this test reads slowly, or not at all, or closes. Log lines may be
// lost to such a reader; the process's exit never is. (With pino's own destination a process
// with a full pipe never exits, and one whose reader went away often does not: its exit-time
// flush retries EAGAIN and EPIPE forever.)

const DESTINATION = join(
  import.meta.dirname,
  '..',
  '..',
  'dist',
  'logging',
  'stdout-destination.js',
);

/**
 * Writes `lines` JSON lines of about 1 KiB, says `written` on stderr, and exits 0 on SIGUSR2
 * (a timer keeps it alive until then). Its stdout is not read until `read()`.
 */
function writer(lines: number) {
  const script = `
    import { writeSync } from 'node:fs';
    import { pino } from 'pino';
    const { StdoutDestination } = await import(${JSON.stringify(DESTINATION)});
    const logger = pino({ base: null, timestamp: false }, new StdoutDestination());
    for (let i = 0; i < ${lines}; i++) logger.info({ i }, 'x'.repeat(1000));
    process.on('SIGUSR2', () => process.exit(0));
    setInterval(() => {}, 1000);
    writeSync(2, 'written\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A listener from the start, then paused: Node discards unread output of a child that exited
  // if its stdout never had one.
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stdout.pause();
  /** Reads on; resolves with everything the child wrote once its stdout ends. */
  const read = () =>
    new Promise<string>((resolve) => {
      child.stdout.once('end', () => resolve(stdout));
      child.stdout.resume();
    });
  let stderr = '';
  const written = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('written\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`writer exited (${code}): ${stderr}`)));
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: Date.now() })),
  );
  return { child, written, exited, read, stdout: () => stdout };
}

/** The `i` of each whole line, in the order read. */
function indexes(text: string): number[] {
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => (JSON.parse(line) as { i: number }).i);
}

describe("Keel's stdout destination", () => {
  const children: ReturnType<typeof writer>['child'][] = [];
  afterEach(() => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('a reader that is only slow gets every line, whole and in order', async () => {
    const run = writer(500); // about 500 KiB: more than the pipe holds, less than is kept
    children.push(run.child);
    await run.written;
    await delay(200);
    void run.read();
    for (let tries = 0; indexes(run.stdout()).length < 500 && tries < 100; tries++) {
      await delay(20);
    }
    expect(indexes(run.stdout())).toEqual(Array.from({ length: 500 }, (_, i) => i));
    run.child.kill('SIGUSR2');
    expect((await run.exited).code).toBe(0);
  });

  it('a full pipe nobody reads: exit is at once; the lines that got through are whole', async () => {
    const run = writer(4000); // about 4 MiB
    children.push(run.child);
    await run.written;
    const exitAt = Date.now();
    run.child.kill('SIGUSR2');
    const exit = await run.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - exitAt).toBeLessThan(1000);

    const got = indexes(await run.read());
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(4000);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i));
  });

  it('the reader goes away while lines wait: exit is at once', async () => {
    const run = writer(4000);
    children.push(run.child);
    await run.written;
    run.child.stdout.destroy();
    const exitAt = Date.now();
    run.child.kill('SIGUSR2');
    const exit = await run.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - exitAt).toBeLessThan(1000);
  });
});
