import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { AppConfig } from '../config/app-config.js';

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
 * terminal. Request lines carry no headers at all (src/logging/request-log.ts); the redaction
 * is the safety net for an app log line that passes an object holding a credential.
 */
export function createRootLogger(config: AppConfig, destination?: DestinationStream): RootLogger {
  const options = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  if (config.nodeEnv === 'development' && process.stdout.isTTY) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { singleLine: true } },
    });
  }
  return pino(options);
}
