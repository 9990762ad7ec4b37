import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// DATA_DIR holds password hashes, session ids and secrets: what Keel creates there is private
// whatever the umask. These start the built server (dist/bundle/main.js; `npm test` builds first) as
// an operator would, under the usual umask 022, and look at the modes while it runs (the -wal
// and -shm files exist only while SQLite has the database open).
const MAIN = join(import.meta.dirname, '..', 'dist', 'bundle', 'main.js');

/** What Keel writes in a fresh DATA_DIR on a first start with the defaults. */
const FILES = [
  'keel.sqlite',
  'keel.sqlite-shm',
  'keel.sqlite-wal',
  'session-secret',
  'setup-token',
];

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);
const modesIn = (dir: string) =>
  Object.fromEntries(readdirSync(dir).map((name) => [name, modeOf(join(dir, name))]));

interface Running {
  child: ChildProcess;
  /** The `msg` of every JSON log line so far. */
  messages: string[];
  stop(): Promise<void>;
}

/** Starts dist/bundle/main.js under umask 022; resolves once it listens and has announced setup. */
function startKeel(cwd: string, dataDir: string): Promise<Running> {
  const child = spawn('sh', ['-c', 'umask 022 && exec "$0" "$1"', process.execPath, MAIN], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      SHUTDOWN_DRAIN_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: string[] = [];
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running: Running = {
    child,
    messages,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Keel did not start: ${stderr}`));
    }, 20000);
    let pending = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines.filter((text) => text.trim())) {
        messages.push(String((JSON.parse(line) as { msg?: unknown }).msg));
      }
      const listening = messages.some((msg) => msg.startsWith('Keel listening on '));
      if (listening && messages.some((msg) => msg.startsWith('Setup required: open '))) {
        clearTimeout(timer);
        resolve(running);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`Keel exited before it listened: ${stderr}`));
    });
  });
}

const dataDirWarnings = (keel: Running) => keel.messages.filter((msg) => /^DATA_DIR /.test(msg));

describe('files under DATA_DIR are private by default (umask 022)', () => {
  let root: string;
  let keel: Running | undefined;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'keel-data-dir-'));
  });
  afterEach(async () => {
    await keel?.stop();
    keel = undefined;
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  describe('a fresh DATA_DIR', () => {
    // Keel makes the directory and its missing parents.
    const dataDir = () => join(root, 'srv', 'keel', 'data');

    it('is created 0700 (its parents too), and every file Keel writes in it is 0600', async () => {
      keel = await startKeel(root, dataDir());
      expect([join(root, 'srv'), join(root, 'srv', 'keel'), dataDir()].map(modeOf)).toEqual([
        '700',
        '700',
        '700',
      ]);
      expect(modesIn(dataDir())).toEqual(Object.fromEntries(FILES.map((name) => [name, '600'])));
      expect(dataDirWarnings(keel)).toEqual([]);
    });

    it('stays so on a restart: the new -wal and -shm files are 0600, and nothing is said', async () => {
      // The previous start closed the database on SIGTERM, which removes -wal and -shm.
      expect(readdirSync(dataDir())).not.toContain('keel.sqlite-wal');
      keel = await startKeel(root, dataDir());
      expect(modeOf(dataDir())).toBe('700');
      expect(modesIn(dataDir())).toEqual(Object.fromEntries(FILES.map((name) => [name, '600'])));
      expect(dataDirWarnings(keel)).toEqual([]);
    });
  });

  it('an existing 0755 DATA_DIR gets exactly one warning line with the fix, and keeps its mode', async () => {
    const dataDir = join(root, 'open');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    keel = await startKeel(root, dataDir);
    expect(dataDirWarnings(keel)).toEqual([
      `DATA_DIR ${dataDir} has mode 755: users other than its owner can reach the database, ` +
        'session secret and setup token Keel keeps there. Keel does not change the mode of an ' +
        `existing directory; make it private with: chmod 700 ${dataDir}`,
    ]);
    expect(keel.messages.filter((msg) => msg.includes('chmod'))).toHaveLength(1);
    expect(modeOf(dataDir)).toBe('755');
    // What Keel creates in it is private all the same.
    expect(modesIn(dataDir)).toEqual(Object.fromEntries(FILES.map((name) => [name, '600'])));
    await keel.stop();
    expect(modeOf(dataDir)).toBe('755');
  });
});
