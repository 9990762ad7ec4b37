import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { SessionStoreUnavailableError } from '../session-cache/session-backend.js';
import { isDatabaseUnreachable } from '../database/connection-errors.js';
import { ApiError, type ErrorBody } from './api-error.js';
import { DEFAULT_CODE_BY_STATUS, ErrorCode } from './error-codes.js';

/** The body and extra headers an error is answered with. */
interface ErrorAnswer {
  body: ErrorBody;
  headers: Record<string, string>;
}

/**
 * Gives every error the contract's shape. Unknown errors become a 500 with a generic message:
 * the details go to the log, never to the client (no stack, no SQL, no secrets).
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const { body, headers } = this.toBody(exception, http.getRequest<Request>().id);
    if (response.headersSent) {
      response.end();
      return;
    }
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    response.status(body.statusCode).json(body);
  }

  /** What the client gets; causes are logged with the request id the client was given. */
  private toBody(exception: unknown, requestId: string | undefined): ErrorAnswer {
    if (exception instanceof ApiError) {
      return { body: exception.toBody(), headers: exception.headers ?? {} };
    }
    if (exception instanceof SessionStoreUnavailableError) {
      // The cause (host, driver message) goes to the log only.
      return this.unavailable(requestId, exception.message, {
        code: ErrorCode.SessionStoreUnavailable,
        message: 'The session store cannot be reached right now; try again shortly',
        retryAfterSeconds: 5,
      });
    }
    if (isDatabaseUnreachable(exception)) {
      // A lost connection (failover, restart) is not a bug in the request: say so, and when.
      return this.unavailable(requestId, `Database unreachable: ${describe(exception)}`, {
        code: ErrorCode.DatabaseUnavailable,
        message: 'The database cannot be reached right now; try again shortly',
        retryAfterSeconds: 2,
      });
    }
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const response = exception.getResponse();
      const raw =
        typeof response === 'string'
          ? response
          : ((response as { message?: unknown }).message ?? exception.message);
      const message = Array.isArray(raw) ? raw.join('; ') : String(raw);
      const code =
        DEFAULT_CODE_BY_STATUS[statusCode] ??
        (statusCode >= 500 ? ErrorCode.InternalError : ErrorCode.ValidationFailed);
      return { body: { statusCode, code, message }, headers: {} };
    }
    this.logger.error({ msg: 'Unhandled error', req: { id: requestId }, err: exception });
    return {
      body: {
        statusCode: 500,
        code: ErrorCode.InternalError,
        message:
          'Internal server error; the request id in the X-Request-Id header finds it in the log',
      },
      headers: {},
    };
  }

  /** A dependency is down: a 503 with Retry-After for the client, the cause for the log. */
  private unavailable(
    requestId: string | undefined,
    cause: string,
    answer: { code: ErrorCode; message: string; retryAfterSeconds: number },
  ): ErrorAnswer {
    this.logger.warn({ msg: cause, req: { id: requestId } });
    return {
      body: new ApiError(503, answer.code, answer.message).toBody(),
      headers: { 'Retry-After': String(answer.retryAfterSeconds) },
    };
  }
}

function describe(error: unknown): string {
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  return typeof message === 'string' ? message : String(code ?? error);
}
