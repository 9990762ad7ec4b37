import {
  chmodSync,
  closeSync,
  fchmodSync,
  mkdirSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';

/** Only the owner may list, enter or change a directory Keel creates. */
export const PRIVATE_DIRECTORY_MODE = 0o700;
/** Only the owner may read or write a file Keel creates. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` and any missing parents as 0700, and leaves a directory that exists alone
 * (its mode is the operator's). Returns whether `dir` itself was created. The mode given to
 * mkdir passes through the umask, which may take bits away (even the owner's), so every
 * directory made here is chmod'ed to exactly 0700 afterwards.
 */
export function createPrivateDirectory(dir: string): boolean {
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  if (first === undefined) return false;
  // mkdir made `first` and every directory below it on the way to `dir`.
  for (let made = dir; ; made = dirname(made)) {
    chmodSync(made, PRIVATE_DIRECTORY_MODE);
    if (made === first || made === dirname(made)) break;
  }
  return true;
}

/**
 * Creates `file`, empty and 0600, unless it exists; an existing file keeps its mode. Returns
 * whether it was created. SQLite gives the -wal and -shm files it makes its database file's
 * mode, so a database file created here first keeps those private too.
 */
export function createPrivateFileIfAbsent(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', PRIVATE_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Writes `content` to `file` as a new 0600 file, replacing any file there. Replacing rather than
 * overwriting matters: writing into an existing file would keep that file's mode, and the mode
 * given at creation passes through the umask, hence the fchmod before the content goes in.
 */
export function writePrivateFile(file: string, content: string): void {
  rmSync(file, { force: true });
  const fd = openSync(file, 'wx', PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
    writeFileSync(fd, content);
  } finally {
    closeSync(fd);
  }
}
