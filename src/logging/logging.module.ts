import { type DynamicModule, Module } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { Options as PinoHttpOptions } from 'pino-http';
import { AppConfig } from '../config/app-config.js';

/** What SessionGuard sets on a request it let through (src/auth/guards.ts). */
type SignedInRequest = IncomingMessage & { signedInUser?: { id: string } };

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Paths polled by machines; logging each poll at info would drown the log. */
const QUIET_PATHS = /^\/(health\/(live|ready|startup)|metrics)(\?|$)/;

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

export interface LoggingOptions {
  /** Where log lines go; stdout when unset. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

/**
 * Structured JSON logs with a request id on every request line (taken from a well-formed
 * incoming `X-Request-Id`, else minted, and echoed in the response). Human-readable in
 * development on a terminal.
 */
@Module({})
export class LoggingModule {
  static forRoot(options: LoggingOptions = {}): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => {
            const pretty =
              !options.destination && config.nodeEnv === 'development' && process.stdout.isTTY;
            const httpOptions: PinoHttpOptions = {
              level: config.logLevel,
              redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
              genReqId: (req: IncomingMessage, res: ServerResponse) => {
                const incoming = req.headers['x-request-id'];
                const id =
                  typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming)
                    ? incoming
                    : randomUUID();
                res.setHeader('X-Request-Id', id);
                return id;
              },
              autoLogging: { ignore: (req: IncomingMessage) => QUIET_PATHS.test(req.url ?? '') },
              // pino-http calls this when the request arrives and again when its line is
              // written (response finished): by then SessionGuard has set `signedInUser` on a
              // route that needs a session. Only the user id: never the session id or cookie.
              customProps: (req: IncomingMessage) => {
                const userId = (req as SignedInRequest).signedInUser?.id;
                return userId ? { userId } : {};
              },
              customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
                error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
              serializers: {
                req: (req: {
                  id: string;
                  method: string;
                  url: string;
                  remoteAddress?: string;
                }) => ({
                  id: req.id,
                  method: req.method,
                  url: req.url,
                  remoteAddress: req.remoteAddress,
                }),
                res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
              },
              ...(pretty
                ? { transport: { target: 'pino-pretty', options: { singleLine: true } } }
                : {}),
            };
            return {
              pinoHttp: options.destination ? [httpOptions, options.destination] : httpOptions,
            };
          },
        }),
      ],
    };
  }
}
