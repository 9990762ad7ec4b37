import { HttpException } from '@nestjs/common';
import type { ErrorCode } from './error-codes.js';

export interface FieldError {
  /** Dotted path into the request body, e.g. `admin.password`. */
  field: string;
  message: string;
}

declare module 'node:http' {
  interface ServerResponse {
    /** The `code` of the error body this response carries (set by HttpExceptionFilter). */
    errorCode?: ErrorCode;
  }
}

/** The one error body every Keel response uses (docs/api.md, "Errors"). */
export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  fields?: FieldError[];
}

/**
 * Throw this from anywhere to answer with the contract's error shape. `headers` carries
 * what the status needs (`Retry-After` on 429, for instance).
 */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: ErrorCode,
    message: string,
    readonly fields?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super({ statusCode: status, code, message, ...(fields ? { fields } : {}) }, status);
  }

  toBody(): ErrorBody {
    return this.getResponse() as ErrorBody;
  }
}
