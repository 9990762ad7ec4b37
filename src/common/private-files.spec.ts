import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createPrivateDirectory,
  createPrivateFileIfAbsent,
  writePrivateFile,
} from './private-files.js';

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** Runs `work` with the process umask set to `mask`, then puts the old one back. */
function withUmask<T>(mask: number, work: () => T): T {
  const previous = process.umask(mask);
  try {
    return work();
  } finally {
    process.umask(previous);
  }
}

describe('private files', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'keel-private-files-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  // 022 is the usual umask; 0277 takes even the owner's write bit away, which only the chmod
  // after creating puts back.
  describe.each([0o022, 0o277])('with umask %o', (mask) => {
    it('creates a directory and the parents it needs as exactly 0700', () => {
      const dir = join(root, 'a', 'b', 'data');
      expect(withUmask(mask, () => createPrivateDirectory(dir))).toBe(true);
      expect([join(root, 'a'), join(root, 'a', 'b'), dir].map(modeOf)).toEqual([
        '700',
        '700',
        '700',
      ]);
      expect(modeOf(root)).toBe('700'); // it existed: untouched (mkdtemp made it 0700)
    });

    it('creates a missing file as an empty 0600 one', () => {
      const file = join(root, 'keel.sqlite');
      expect(withUmask(mask, () => createPrivateFileIfAbsent(file))).toBe(true);
      expect(modeOf(file)).toBe('600');
      expect(statSync(file).size).toBe(0);
    });

    it('writes a new 0600 file', () => {
      const file = join(root, 'session-secret');
      withUmask(mask, () => writePrivateFile(file, 'secret\n'));
      expect(modeOf(file)).toBe('600');
      expect(readFileSync(file, 'utf8')).toBe('secret\n');
    });
  });

  it('leaves an existing directory and its mode alone', () => {
    const dir = join(root, 'data');
    mkdirSync(dir, { mode: 0o755 });
    expect(createPrivateDirectory(dir)).toBe(false);
    expect(modeOf(dir)).toBe('755');
  });

  it('leaves an existing file, its content and its mode alone', () => {
    const file = join(root, 'keel.sqlite');
    writeFileSync(file, 'data', { mode: 0o644 });
    expect(createPrivateFileIfAbsent(file)).toBe(false);
    expect([modeOf(file), readFileSync(file, 'utf8')]).toEqual(['644', 'data']);
  });

  it('replaces an existing 0644 file by a 0600 one when it writes', () => {
    const file = join(root, 'session-secret');
    writeFileSync(file, 'a much longer old content\n', { mode: 0o644 });
    writePrivateFile(file, 'new\n');
    expect([modeOf(file), readFileSync(file, 'utf8')]).toEqual(['600', 'new\n']);
  });
});
