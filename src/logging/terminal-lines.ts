import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

/**
 * Human-readable lines for a person at a terminal (development, stdout a TTY): pino-pretty's
 * formatting, run in this thread on each line rather than as a pino transport (a worker thread,
 * whose exit-time flush waits for a reader that may be gone). Undefined when pino-pretty is not
 * installed (a dev dependency, absent from a production install): the lines stay JSON then.
 */
export function terminalLines(): ((line: string) => string) | undefined {
  let pinoPretty: typeof PinoPretty;
  try {
    pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  } catch {
    return undefined;
  }
  return pinoPretty.prettyFactory({ singleLine: true, colorize: pinoPretty.isColorSupported });
}
