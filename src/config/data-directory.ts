import { Injectable, Logger } from '@nestjs/common';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  createPrivateDirectory,
  PRIVATE_DIRECTORY_MODE,
  writePrivateFile,
} from '../common/private-files.js';
import { AppConfig } from './app-config.js';

/**
 * DATA_DIR, where Keel keeps what must stay private: the SQLite database (password hashes,
 * session ids), the generated session secret, the setup token. The first use in a process
 * creates it 0700 if it is missing, or checks an existing one: a directory that group or others
 * can reach gets one warning line with the fix, and keeps its mode (the operator's to change).
 * Nothing is created or checked while nothing uses it (PostgreSQL with SESSION_SECRET set).
 */
@Injectable()
export class DataDirectory {
  readonly path: string;
  private readonly logger = new Logger(DataDirectory.name);
  private prepared = false;

  constructor(config: AppConfig) {
    this.path = config.dataDir;
  }

  /** Makes sure DATA_DIR exists (created 0700, or checked once); returns its path. */
  prepare(): string {
    if (this.prepared) return this.path;
    if (!createPrivateDirectory(this.path)) {
      const mode = statSync(this.path).mode & 0o777;
      // Execute alone counts too: it lets others open, by name, a file left group- or
      // world-readable (a database file an earlier version of Keel created 0644).
      if (mode & ~PRIVATE_DIRECTORY_MODE) this.logger.warn(openDirectoryWarning(this.path, mode));
    }
    this.prepared = true;
    return this.path;
  }

  /** Writes `name` in DATA_DIR as a new 0600 file (replacing any file of that name). */
  writePrivateFile(name: string, content: string): string {
    const file = join(this.prepare(), name);
    writePrivateFile(file, content);
    return file;
  }
}

function openDirectoryWarning(dir: string, mode: number): string {
  return (
    `DATA_DIR ${dir} has mode ${mode.toString(8)}: users other than its owner can reach the ` +
    'database, session secret and setup token Keel keeps there. Keel does not change the mode ' +
    `of an existing directory; make it private with: chmod 700 ${dir}`
  );
}
