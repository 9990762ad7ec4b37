import { writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

/** What may wait in memory for a reader that stopped reading; past it, new lines are dropped. */
const MAX_PENDING_BYTES = 1024 * 1024;
/** How soon a full pipe is tried again. */
const RETRY_MS = 25;

/**
 * Log lines to stdout that can never hold the process, whatever reads them: a full pipe (a
 * reader that stopped reading) or a broken one (the reader is gone: `npm start | pino-pretty`
 * and Ctrl-C) loses lines, never the exit.
 *
 * Each line is written at once with one `write(2)`, so lines keep their order and a crash loses
 * none. Node opens stdout as a libuv stream on first access, which makes a pipe non-blocking:
 * a write to a full pipe then fails with EAGAIN instead of stopping the thread (a terminal stays
 * blocking, as Node keeps it). Such lines wait, up to MAX_PENDING_BYTES, and are tried again on
 * an unref'd timer and once more at exit, never in a loop. Any other error (EPIPE, EIO from a
 * closed terminal) means nobody reads: every later line is dropped.
 *
 * Not pino's own destination: on exit it flushes synchronously and retries an EPIPE or EAGAIN
 * forever, so a process whose reader went away at the wrong moment never ends (sonic-boom 4's
 * `flushSync`).
 */
export class StdoutDestination implements DestinationStream {
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private retry: NodeJS.Timeout | undefined;
  private gone = false;
  /** Lines dropped because the reader could not keep up, or had gone. */
  droppedLines = 0;

  /**
   * @param format turns a JSON line into what is written (a human-readable line on a terminal)
   * @param fd stdout unless a test says otherwise
   */
  constructor(
    private readonly format: (line: string) => string = (line) => line,
    private readonly fd = 1,
  ) {
    if (fd === 1) void process.stdout; // the libuv stream: a pipe becomes non-blocking
    process.once('exit', () => this.writePending());
  }

  write(line: string): void {
    if (this.gone) {
      this.droppedLines++;
      return;
    }
    const text = this.format(line);
    if (this.pending.length > 0) {
      this.enqueue(Buffer.from(text));
      return;
    }
    try {
      const written = writeSync(this.fd, text);
      if (written !== text.length) {
        const bytes = Buffer.from(text);
        if (written < bytes.length) this.enqueue(bytes.subarray(written));
      }
    } catch (error) {
      if (isFull(error)) this.enqueue(Buffer.from(text));
      else this.readerGone();
    }
  }

  private enqueue(bytes: Buffer): void {
    if (this.pendingBytes + bytes.length > MAX_PENDING_BYTES) {
      this.droppedLines++;
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      if (!this.writePending()) this.scheduleRetry();
    }, RETRY_MS).unref();
  }

  /** Writes what waits until the pipe is full again; true when nothing is left waiting. */
  private writePending(): boolean {
    while (this.pending.length > 0 && !this.gone) {
      const head = this.pending[0]!;
      let written: number;
      try {
        written = writeSync(this.fd, head);
      } catch (error) {
        if (isFull(error)) return false;
        this.readerGone();
        return true;
      }
      this.pendingBytes -= written;
      if (written < head.length) {
        this.pending[0] = head.subarray(written);
        return false;
      }
      this.pending.shift();
    }
    return true;
  }

  private readerGone(): void {
    this.gone = true;
    this.droppedLines += this.pending.length;
    this.pending.length = 0;
    this.pendingBytes = 0;
    clearTimeout(this.retry);
    this.retry = undefined;
  }
}

function isFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK';
}

/**
 * Errors on the process's own stdout and stderr streams (EPIPE once the reader is gone) are
 * ignored: there is nowhere left to report them, and unhandled they would be an uncaught
 * exception that ends the process mid-drain. Installed by `serve()` for the real process.
 */
export function ignoreOutputErrors(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listeners('error').includes(ignore)) continue;
    stream.on('error', ignore);
  }
}

function ignore(): void {}
