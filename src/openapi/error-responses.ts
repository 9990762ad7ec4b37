import { ApiProperty, ApiPropertyOptional, ApiResponse, ApiSchema } from '@nestjs/swagger';
import type { ErrorBody, FieldError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';

interface ErrorCodeDoc {
  status: number;
  /** What happened and what the client does next. */
  meaning: string;
  /** The answer carries `Retry-After` (seconds). */
  retryAfter?: boolean;
}

/**
 * Every error code with its status and meaning: the one table the document's error responses
 * are built from. Typed over every `ErrorCode`, so a new code does not compile until it is
 * documented here.
 */
export const ERROR_CODE_DOCS: Record<ErrorCode, ErrorCodeDoc> = {
  [ErrorCode.ValidationFailed]: {
    status: 400,
    meaning:
      'The request is invalid: `fields` names each offending field (unknown fields are refused, never ignored).',
  },
  [ErrorCode.MalformedJson]: { status: 400, meaning: 'The request body is not valid JSON.' },
  [ErrorCode.PayloadTooLarge]: { status: 413, meaning: 'The request body is larger than 100 kB.' },
  [ErrorCode.SwapFailed]: {
    status: 503,
    meaning:
      'The change was checked, but moving the sessions to the new backend failed midway (the message names the cause): nothing was stored, the old backend is still served with every session. Retry once the backend is healthy.',
  },
  [ErrorCode.DatabaseUnavailable]: {
    status: 503,
    meaning: 'The database cannot be reached right now; retry after `Retry-After` seconds.',
    retryAfter: true,
  },
  [ErrorCode.HeadersTooLarge]: {
    status: 431,
    meaning: 'The request headers (cookies included) are larger than 16 kB.',
  },
  [ErrorCode.MalformedRequest]: { status: 400, meaning: 'The request is not valid HTTP.' },
  [ErrorCode.RequestTimeout]: { status: 408, meaning: 'The request was not received in time.' },
  [ErrorCode.UnsupportedMediaType]: {
    status: 415,
    meaning:
      'A request body must be UTF-8 JSON sent with `Content-Type: application/json` (`PATCH /api/settings` also takes `application/merge-patch+json`).',
  },
  [ErrorCode.NotFound]: {
    status: 404,
    meaning: 'Nothing has this id (or no route has this path).',
  },
  [ErrorCode.MethodNotAllowed]: { status: 405, meaning: 'The route does not accept this method.' },
  [ErrorCode.Unauthenticated]: {
    status: 401,
    meaning:
      'No signed-in session (or it ended): sign in with `POST /api/auth/login`. On `/metrics`: a missing or wrong bearer token.',
  },
  [ErrorCode.Forbidden]: { status: 403, meaning: 'Signed in, but the route is for admins only.' },
  [ErrorCode.CsrfFailed]: {
    status: 403,
    meaning:
      'The request carries a session cookie but no or a wrong `X-CSRF-Token` header: send the token from `GET /api/auth/csrf` (or from login or setup).',
  },
  [ErrorCode.InvalidCredentials]: {
    status: 401,
    meaning: 'Wrong username or password (the same answer for both).',
  },
  [ErrorCode.TooManyRequests]: {
    status: 429,
    meaning: 'Too many failed attempts: retry after `Retry-After` seconds.',
    retryAfter: true,
  },
  [ErrorCode.SetupRequired]: {
    status: 503,
    meaning: 'First-run setup is not complete: finish it with `POST /api/setup` first.',
  },
  [ErrorCode.SetupTokenInvalid]: {
    status: 401,
    meaning: 'The setup token is wrong or missing (it is printed in the log at start).',
  },
  [ErrorCode.SetupCompleted]: { status: 409, meaning: 'Setup is already complete.' },
  [ErrorCode.PreconditionRequired]: {
    status: 428,
    meaning: 'Send `If-Match` with the ETag of the settings you read, e.g. `If-Match: "3"`.',
  },
  [ErrorCode.VersionConflict]: {
    status: 412,
    meaning:
      'The settings changed since you read them (or `If-Match` names no current version: a weak tag never does, and neither does anything but `*` or a list of ETags): read them again, then retry.',
  },
  [ErrorCode.BackendUnavailable]: {
    status: 422,
    meaning: 'The chosen session-cache backend cannot be reached; nothing changed.',
  },
  [ErrorCode.BackendNotShared]: {
    status: 409,
    meaning:
      'The chosen session-cache backend is local to one process while several replicas run; nothing changed.',
  },
  [ErrorCode.SessionStoreUnavailable]: {
    status: 503,
    meaning: 'The session store cannot be reached: retry after `Retry-After` seconds.',
    retryAfter: true,
  },
  [ErrorCode.LastAdmin]: {
    status: 409,
    meaning: 'There must always be an enabled admin: this would remove the last one.',
  },
  [ErrorCode.UsernameTaken]: {
    status: 409,
    meaning: 'Another user has this username (compared case-insensitively).',
  },
  [ErrorCode.Conflict]: { status: 409, meaning: 'The request conflicts with the current state.' },
  [ErrorCode.InternalError]: {
    status: 500,
    meaning:
      'Something failed inside the server; the `X-Request-Id` response header finds it in the log.',
  },
};

const CODE_LIST = Object.values(ErrorCode)
  .map(
    (code) => `- \`${code}\` (${ERROR_CODE_DOCS[code].status}): ${ERROR_CODE_DOCS[code].meaning}`,
  )
  .join('\n');

@ApiSchema({ name: 'FieldError' })
export class FieldErrorSchema implements FieldError {
  @ApiProperty({ description: 'Dotted path into the request, e.g. `admin.password`.' })
  field!: string;

  @ApiProperty()
  message!: string;
}

@ApiSchema({
  name: 'ErrorBody',
  description: 'The one shape of every error Keel answers with.',
})
export class ErrorBodySchema implements ErrorBody {
  @ApiProperty({ description: 'The HTTP status, repeated.', example: 400 })
  statusCode!: number;

  @ApiProperty({
    enum: Object.values(ErrorCode),
    enumName: 'ErrorCode',
    description: `Stable and machine-readable: switch on this, not on \`message\`.\n\n${CODE_LIST}`,
  })
  code!: ErrorCode;

  @ApiProperty({ description: 'For humans: what went wrong and what to do next.' })
  message!: string;

  @ApiPropertyOptional({
    type: () => [FieldErrorSchema],
    description: 'With `validation_failed`: each offending field.',
  })
  fields?: FieldError[];
}

const ERROR_CODES_METADATA = 'keel:openapi:errorCodes';

const RETRY_AFTER_HEADER = {
  'Retry-After': {
    description: `Seconds to wait before retrying; sent with ${Object.values(ErrorCode)
      .filter((code) => ERROR_CODE_DOCS[code].retryAfter)
      .map((code) => `\`${code}\``)
      .join(', ')}.`,
    schema: { type: 'integer' },
  },
};

/**
 * Documents the error codes a route can answer with: one response per status, each an
 * `ErrorBody` with an example per code. Stackable (the access decorators add the codes the
 * global guards and the HTTP edge produce); a code given twice is documented once.
 */
export function ApiErrors(...codes: ErrorCode[]): MethodDecorator {
  return (target, key, descriptor) => {
    const handler = descriptor.value as object;
    const documented = new Set<ErrorCode>(
      (Reflect.getMetadata(ERROR_CODES_METADATA, handler) as ErrorCode[] | undefined) ?? [],
    );
    for (const code of codes) {
      if (documented.has(code)) continue;
      documented.add(code);
      const { status, meaning, retryAfter } = ERROR_CODE_DOCS[code];
      // Responses of one status merge: descriptions are joined and examples combined.
      ApiResponse({
        status,
        description: `\`${code}\`: ${meaning}`,
        type: ErrorBodySchema,
        examples: {
          [code]: { summary: code, value: { statusCode: status, code, message: meaning } },
        },
        ...(retryAfter ? { headers: RETRY_AFTER_HEADER } : {}),
      })(target, key, descriptor);
    }
    Reflect.defineMetadata(ERROR_CODES_METADATA, [...documented], handler);
  };
}
