import { applyDecorators } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import { ErrorCode } from '../http/error-codes.js';
import { ApiErrors } from './error-responses.js';

/** The security schemes of the document: one per session cookie name (see openapi.ts). */
export const SESSION_SCHEME = 'session';
export const SECURE_SESSION_SCHEME = 'secureSession';
/** `Authorization: Bearer <METRICS_TOKEN>` for `GET /metrics` on the main port. */
export const METRICS_TOKEN_SCHEME = 'metricsToken';
export const CSRF_HEADER_NAME = 'X-CSRF-Token';
/** The `Set-Cookie` of an answer that starts a session (login, setup), for the document. */
export const SESSION_COOKIE_SET = {
  'Set-Cookie': {
    description:
      'The session cookie: `keel.sid` over plain HTTP, `__Host-keel.sid` over TLS (HttpOnly, SameSite=Lax, Path=/; Secure over TLS). Browsers keep it without showing it to scripts.',
    required: true,
    schema: { type: 'string' },
  },
};

/** The CSRF token as a security scheme: `X-CSRF-Token` on unsafe requests with a session. */
export const CSRF_SCHEME = 'csrfToken';

export interface AccessOptions {
  /** POST, PUT, PATCH or DELETE: with a session cookie it needs `X-CSRF-Token`. */
  unsafe?: boolean;
  /** Takes a JSON body (implies `unsafe`): the HTTP edge and the DTO may refuse it. */
  jsonBody?: boolean;
  /** Answers before first-run setup is complete (only `/api/setup` and `/api/auth/csrf`). */
  beforeSetup?: boolean;
}

/**
 * What the global guards and the HTTP edge add to every `/api` route, documented in one place:
 * the session-cookie security, the `X-CSRF-Token` header on unsafe routes, and the error codes
 * the guards answer with. `public` matches `@Public()`, `admin` matches `@Roles('admin')`;
 * test/openapi checks that the two agree.
 */
export function ApiAccess(
  kind: 'public' | 'signedIn' | 'admin',
  options: AccessOptions = {},
): MethodDecorator {
  const unsafe = options.unsafe || options.jsonBody;
  // Every /api route reads the session store and the database (the setup gate, the session
  // guard or the route itself), and either may be out of reach.
  const codes: ErrorCode[] = [ErrorCode.SessionStoreUnavailable, ErrorCode.DatabaseUnavailable];
  if (!options.beforeSetup) codes.push(ErrorCode.SetupRequired);
  if (kind !== 'public') codes.push(ErrorCode.Unauthenticated);
  if (kind === 'admin') codes.push(ErrorCode.Forbidden);
  if (unsafe) codes.push(ErrorCode.CsrfFailed);
  if (options.jsonBody) {
    codes.push(
      ErrorCode.ValidationFailed,
      ErrorCode.MalformedJson,
      ErrorCode.PayloadTooLarge,
      ErrorCode.UnsupportedMediaType,
    );
  }
  const decorators: MethodDecorator[] = [ApiErrors(...codes)];
  // Security requirements: within one, every scheme is needed; any one requirement will do.
  // The CSRF token is a scheme (a header a client's middleware adds), not a parameter, so a
  // generated client does not ask for it on every call.
  if (kind !== 'public') {
    // Two requirements, either satisfies: the cookie's name depends on TLS.
    for (const cookie of [SESSION_SCHEME, SECURE_SESSION_SCHEME]) {
      decorators.push(ApiSecurity(unsafe ? { [cookie]: [], [CSRF_SCHEME]: [] } : cookie));
    }
  } else if (unsafe) {
    // No credentials needed; a client that holds a signed anonymous token's cookie (a browser
    // that called GET /api/auth/csrf) sends the token with it.
    decorators.push(ApiSecurity({}), ApiSecurity(CSRF_SCHEME));
  }
  return applyDecorators(...decorators);
}
