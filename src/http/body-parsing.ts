import express, { type NextFunction, type Request, type Response } from 'express';
import { ApiError } from './api-error.js';
import { ErrorCode } from './error-codes.js';

export const BODY_LIMIT = '100kb';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * JSON in: a request that carries a body must say it is JSON, and the JSON must parse and fit
 * in 100 kB. Failures become ApiErrors handled by `bodyErrorHandler`, so they have the same
 * shape as every other error.
 */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (UNSAFE_METHODS.has(req.method) && hasBody && !req.is('application/json')) {
    next(
      new ApiError(
        415,
        ErrorCode.UnsupportedMediaType,
        'Request bodies must be JSON: send Content-Type: application/json',
      ),
    );
    return;
  }
  next();
}

export const jsonBodyParser = express.json({ limit: BODY_LIMIT, strict: true });

/** Express error middleware for the body parser's errors (they never reach Nest's filters). */
export function bodyErrorHandler(
  error: unknown,
  _req: Request,
  res: Response,
  next: NextFunction,
): void {
  const apiError = toApiError(error);
  if (!apiError) {
    next(error);
    return;
  }
  res.status(apiError.getStatus()).json(apiError.toBody());
}

function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  const type = (error as { type?: string } | null)?.type;
  switch (type) {
    case 'entity.too.large':
      return new ApiError(
        413,
        ErrorCode.PayloadTooLarge,
        `Request body is larger than ${BODY_LIMIT}`,
      );
    case 'entity.parse.failed':
      return new ApiError(400, ErrorCode.MalformedJson, 'Request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, ErrorCode.UnsupportedMediaType, 'Request body must be UTF-8 JSON');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new ApiError(400, ErrorCode.MalformedJson, 'Request body could not be read');
    default:
      return undefined;
  }
}
