import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { AppConfig } from '../config/app-config.js';
import { StdoutDestination } from './stdout-destination.js';
import { terminalLines } from './terminal-lines.js';

/** Injection token of the app's one pino instance (created per app, never module state). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
export type RootLogger = PinoLogger;

/** Headers and fields that carry credentials; pino replaces them before anything is written. */
export const REDACTED_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-csrf-token"]',
  'req.headers["x-setup-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.csrfToken',
  '*.sessionId',
];

/**
 * Structured JSON lines on stdout (or `destination`), human-readable in development on a
 * terminal. The root logger does not redact: it writes the request lines, which are built
 * field by field and carry no headers or bodies (src/logging/request-log.ts), and redaction
 * with wildcard paths costs more than the rest of the line (docs/performance.md). App lines go
 * through `redacting(root)`.
 */
export function createRootLogger(config: AppConfig, destination?: DestinationStream): RootLogger {
  const options = { level: config.logLevel };
  if (destination) return pino(options, destination);
  const forPerson =
    config.nodeEnv === 'development' && process.stdout.isTTY
      ? terminalLines(process.stdout.columns)
      : undefined;
  return pino(options, new StdoutDestination(forPerson));
}

/**
 * The root logger with credentials redacted: for app log lines, where code may pass an object
 * that holds a password, token or header (a safety net; nothing should).
 */
export function redacting(root: RootLogger): RootLogger {
  return root.child({}, { redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
