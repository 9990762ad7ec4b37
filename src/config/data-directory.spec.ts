import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from './app-config.js';
import { DataDirectory } from './data-directory.js';

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);
const dataDirectoryAt = (dataDir: string) => new DataDirectory({ dataDir } as AppConfig);

describe('DataDirectory', () => {
  let root: string;
  let warn: jest.SpiedFunction<Logger['warn']>;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'keel-data-directory-'));
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(root, { recursive: true, force: true });
  });

  it('creates a missing DATA_DIR 0700, with no warning', () => {
    const dir = join(root, 'data');
    expect(dataDirectoryAt(dir).prepare()).toBe(dir);
    expect(modeOf(dir)).toBe('700');
    expect(warn).not.toHaveBeenCalled();
  });

  it('says nothing of an existing 0700 DATA_DIR', () => {
    const dir = join(root, 'data');
    mkdirSync(dir, { mode: 0o700 });
    dataDirectoryAt(dir).prepare();
    expect(warn).not.toHaveBeenCalled();
  });

  it.each([0o755, 0o750, 0o711, 0o777])(
    'warns once about an existing DATA_DIR of mode %o, with the fix, and leaves the mode',
    (mode) => {
      const dir = join(root, 'data');
      mkdirSync(dir);
      chmodSync(dir, mode); // mkdir's mode would pass through the umask; chmod's does not
      const data = dataDirectoryAt(dir);
      data.prepare();
      data.prepare();
      data.writePrivateFile('setup-token', 'token\n');
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]![0]).toBe(
        `DATA_DIR ${dir} has mode ${mode.toString(8)}: users other than its owner can reach the ` +
          'database, session secret and setup token Keel keeps there. Keel does not change the ' +
          `mode of an existing directory; make it private with: chmod 700 ${dir}`,
      );
      expect(modeOf(dir)).toBe(mode.toString(8));
      expect(modeOf(join(dir, 'setup-token'))).toBe('600');
    },
  );
});
