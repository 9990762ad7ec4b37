import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Level } from 'pino';
import { ServerRequestListener } from '../common/server-request-listener.js';
import { ErrorCode } from '../http/error-codes.js';
import { ROOT_LOGGER, type RootLogger } from './root-logger.js';

const REQUEST_ID_HEADER = 'X-Request-Id';
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Paths polled by machines; a line for each poll would drown the log. */
const QUIET_PATHS = /^\/(health\/(live|ready|startup)|metrics)(\?|$)/;

/**
 * Error answers that report the install's state rather than a failure, logged at info: a
 * frontend polls through `503 setup_required` during first run and must not fill the log with
 * errors.
 */
const STATE_ANSWERS: ReadonlySet<ErrorCode> = new Set([ErrorCode.SetupRequired]);

/** What Express and SessionGuard leave on a request (src/auth/guards.ts). */
type ServedRequest = IncomingMessage & { ip?: string; signedInUser?: { id: string } };

declare module 'node:http' {
  interface IncomingMessage {
    /** The request id, echoed in `X-Request-Id` and carried by the request's log line. */
    id?: string;
  }
}

/**
 * One line per answered request (`request completed`), at info for 2xx/3xx, warn for 4xx and
 * error for 5xx (but info for `503 setup_required`: STATE_ANSWERS), with the request id, method,
 * URL, client address, status, duration and the signed-in user's id. Never headers, cookies or
 * session ids.
 *
 * Every request gets an id first: a well-formed incoming `X-Request-Id`, else a new UUID,
 * echoed in the response. It runs as a `request` listener ahead of Express, so the id exists
 * before any middleware and the duration covers the whole answer.
 *
 * Deliberately not pino-http: it builds a child logger per request and keeps an
 * AsyncLocalStorage context, which cost a quarter of a `GET /api/auth/me` even when the line
 * is below the log level (docs/performance.md). Here a request whose line is not written costs
 * one id and one listener.
 */
@Injectable()
export class RequestLog extends ServerRequestListener {
  constructor(
    @Inject(ROOT_LOGGER) private readonly logger: RootLogger,
    adapterHost: HttpAdapterHost,
  ) {
    super(adapterHost);
  }

  protected onRequest(req: IncomingMessage, res: ServerResponse): void {
    const incoming = req.headers['x-request-id'];
    const id =
      typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    if (QUIET_PATHS.test(req.url ?? '')) return;
    const start = performance.now();
    this.whenClosed(res, () => this.write(req as ServedRequest, res, start));
  }

  private write(req: ServedRequest, res: ServerResponse, start: number): void {
    const finished = res.writableFinished;
    const level: Level =
      !finished || (res.errorCode !== undefined && STATE_ANSWERS.has(res.errorCode))
        ? 'info'
        : res.statusCode >= 500
          ? 'error'
          : res.statusCode >= 400
            ? 'warn'
            : 'info';
    if (!this.logger.isLevelEnabled(level)) return;
    const userId = req.signedInUser?.id;
    this.logger[level](
      {
        req: {
          id: req.id,
          method: req.method,
          url: req.url,
          remoteAddress: req.ip ?? req.socket.remoteAddress,
        },
        res: { statusCode: res.statusCode },
        responseTime: Math.round(performance.now() - start),
        ...(userId ? { userId } : {}),
      },
      // A client that hung up before the answer was sent: not an error of the server's.
      finished ? 'request completed' : 'request aborted',
    );
  }
}
