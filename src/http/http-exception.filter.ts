import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { ApiError, type ErrorBody } from './api-error.js';
import { DependencyUnavailableError } from './dependency-unavailable.js';
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
    response.errorCode = body.code;
    response.status(body.statusCode).json(body);
  }

  /** What the client gets; causes are logged with the request id the client was given. */
  private toBody(exception: unknown, requestId: string | undefined): ErrorAnswer {
    if (exception instanceof ApiError) {
      return { body: exception.toBody(), headers: exception.headers ?? {} };
    }
    if (exception instanceof DependencyUnavailableError) {
      // A lost connection (failover, restart) is not a bug in the request: say so, and when.
      // The cause (host, driver message) goes to the log only.
      this.logger.warn({ msg: exception.message, req: { id: requestId } });
      return unavailableAnswer(exception);
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
}

/** A dependency is down: a 503 with Retry-After for the client. */
export function unavailableAnswer(error: DependencyUnavailableError): ErrorAnswer {
  return {
    body: new ApiError(503, error.code, error.publicMessage).toBody(),
    headers: { 'Retry-After': String(error.retryAfterSeconds) },
  };
}

/**
 * Express error middleware for what fails before Nest's router (express-session's store):
 * a dependency that cannot be reached is answered like anywhere else, never as "logged out".
 */
export const dependencyErrorHandler: ErrorRequestHandler = (error, _req, res, next) => {
  if (!(error instanceof DependencyUnavailableError)) {
    next(error);
    return;
  }
  const { body, headers } = unavailableAnswer(error);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.errorCode = body.code;
  res.status(body.statusCode).json(body);
};
