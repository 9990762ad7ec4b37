import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// What a person sees on the first start at a terminal: the built server as `npm start` runs it
// (`node dist/bundle/main.js`, development by default) in a pseudo-terminal (`script`), with a fresh
// DATA_DIR. The setup link must be on a line of its own, a few lines down, not lost in Nest's
// start-up chatter.

const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'bundle', 'main.js');
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const SETUP_LINK = /http:\/\/\S+\/setup#token=/;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Everything the terminal showed until a line matched `until` (or the deadline passed). */
function readUntil(child: ChildProcess, until: RegExp, deadlineMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    const lines = () => text.split(/\r?\n/).map((line) => line.replace(ANSI, ''));
    const timer = setTimeout(
      () => reject(new Error(`no line matched ${until} within ${deadlineMs} ms:\n${text}`)),
      deadlineMs,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      // Wait for the line's end, so it is whole.
      if (
        lines()
          .slice(0, -1)
          .some((line) => until.test(line))
      ) {
        clearTimeout(timer);
        resolve(lines());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`script exited (${code}) first:\n${text}`));
    });
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `node dist/bundle/main.js` in a pseudo-terminal, as `npm start` at a terminal runs it. */
function startInTerminal(dataDir: string, env: Record<string, string>): ChildProcess {
  return spawn('script', ['-qc', `'${process.execPath}' '${MAIN}'`, '/dev/null'], {
    cwd: dataDir,
    env: { PATH: process.env.PATH ?? '', DATA_DIR: join(dataDir, 'data'), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

describe('the first start at a terminal', () => {
  let dataDir: string;
  let terminal: ChildProcess | undefined;
  let keelPid: number | undefined;
  afterEach(async () => {
    if (keelPid && isRunning(keelPid)) process.kill(keelPid, 'SIGKILL');
    if (terminal && terminal.exitCode === null && terminal.signalCode === null) {
      const exited = new Promise((resolve) => terminal!.once('exit', resolve));
      terminal.kill('SIGKILL');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    terminal = undefined;
    keelPid = undefined;
  });

  it('shows the setup link on a line of its own, framed, after fewer than 25 lines', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keel-terminal-'));
    const port = await freePort();
    terminal = startInTerminal(dataDir, { PORT: String(port) });
    const lines = await readUntil(terminal, SETUP_LINK, 30000);
    keelPid = Number(/\((\d+)\):/.exec(lines[0]!)?.[1]) || undefined;

    const linkAt = lines.findIndex((line) => SETUP_LINK.test(line));
    const token = readFileSync(join(dataDir, 'data', 'setup-token'), 'utf8').trim();
    // Only the link on its line (and the indent); a rule above and a blank line above that.
    expect(lines[linkAt]!.trim()).toBe(`http://localhost:${port}/setup#token=${token}`);
    expect(lines[linkAt - 1]).toMatch(/^\s*─+$/);
    expect(lines[linkAt - 2]!.trim()).toBe('');
    expect(linkAt).toBeLessThan(25);
    // The token on no other line; the line above the frame says what the link is for.
    expect(lines.filter((line) => line.includes(token))).toHaveLength(1);
    expect(lines[linkAt - 3]).toMatch(/WARN.*Setup required: open the setup link/);
    // Nest's start-up chatter is not shown at the default level.
    expect(lines.join('\n')).not.toMatch(/InstanceLoader|RoutesResolver|RouterExplorer|Mapped \{/);
  });

  it('stops when its terminal closes (SIGHUP at a terminal), draining as on SIGTERM', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keel-terminal-'));
    const port = await freePort();
    terminal = startInTerminal(dataDir, {
      PORT: String(port),
      SHUTDOWN_DRAIN_MS: '200',
      SHUTDOWN_GRACE_MS: '500',
    });
    const lines = await readUntil(terminal, /Keel listening on/, 30000);
    keelPid = Number(/\((\d+)\):/.exec(lines[0]!)?.[1]) || undefined;
    expect(keelPid).toBeGreaterThan(0);

    // The window goes away: the pseudo-terminal's master closes and the kernel hangs up on
    // the processes of the terminal's session.
    const closedAt = Date.now();
    terminal.kill('SIGKILL');
    while (isRunning(keelPid!) && Date.now() - closedAt < 200 + 500 + 1000 + 1000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(isRunning(keelPid!)).toBe(false);
  });
});
