/**
 * Every machine-readable error code Keel answers with (docs/api.md, "Errors"). Clients switch on
 * these strings, so they never change once released.
 */
export const ErrorCode = {
  ValidationFailed: 'validation_failed',
  MalformedJson: 'malformed_json',
  PayloadTooLarge: 'payload_too_large',
  HeadersTooLarge: 'headers_too_large',
  MalformedRequest: 'malformed_request',
  RequestTimeout: 'request_timeout',
  UnsupportedMediaType: 'unsupported_media_type',
  NotFound: 'not_found',
  MethodNotAllowed: 'method_not_allowed',
  Unauthenticated: 'unauthenticated',
  Forbidden: 'forbidden',
  CsrfFailed: 'csrf_failed',
  InvalidCredentials: 'invalid_credentials',
  TooManyRequests: 'too_many_requests',
  SetupRequired: 'setup_required',
  SetupTokenInvalid: 'setup_token_invalid',
  SetupCompleted: 'setup_completed',
  PreconditionRequired: 'precondition_required',
  VersionConflict: 'version_conflict',
  BackendUnavailable: 'backend_unavailable',
  BackendNotShared: 'backend_not_shared',
  SwapFailed: 'swap_failed',
  SessionStoreUnavailable: 'session_store_unavailable',
  DatabaseUnavailable: 'database_unavailable',
  LastAdmin: 'last_admin',
  UsernameTaken: 'username_taken',
  Conflict: 'conflict',
  InternalError: 'internal_error',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The code a bare HTTP status maps to when the thrower gave none (Nest's own exceptions). */
export const DEFAULT_CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.Unauthenticated,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  405: ErrorCode.MethodNotAllowed,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.TooManyRequests,
};
