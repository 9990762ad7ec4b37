import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

const HSTS_HEADER = 'Strict-Transport-Security';

export const HELMET_OPTIONS: HelmetOptions = {
  // The API answers JSON; the only HTML is the setup page, which needs nothing external.
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      // Keel often serves plain HTTP on a LAN or behind a TLS proxy; don't force https.
      upgradeInsecureRequests: null,
    },
  },
};

/** helmet's headers as recorded once (recordSecurityHeaders). */
export interface RecordedSecurityHeaders {
  /** Set on every answer, whatever the request. */
  readonly always: readonly (readonly [string, string])[];
  /** Headers helmet removes (`X-Powered-By`). */
  readonly removals: readonly string[];
  /** `Strict-Transport-Security`'s value: on answers to secure requests only. */
  readonly hsts: string | undefined;
}

/**
 * helmet's security headers, worked out once. helmet answers every request through a chain of
 * thirteen small middlewares that set the same values each time; here helmet runs once at
 * start-up against a response that records what it sets, and each request gets the recorded
 * headers in one pass (docs/performance.md). Only for options whose headers do not depend on
 * the request: no CSP nonces or other function-valued directives.
 */
export function securityHeaders(options: HelmetOptions): RequestHandler {
  return serveSecurityHeaders(recordSecurityHeaders(options));
}

/** Runs helmet once against a recording response (see securityHeaders). */
export function recordSecurityHeaders(options: HelmetOptions): RecordedSecurityHeaders {
  if (hasRequestDependentDirective(options)) {
    throw new Error('securityHeaders: CSP directives must be fixed values, not functions');
  }
  const recorded = new Map<string, string>();
  const removed = new Set<string>();
  const recorder = {
    setHeader(name: string, value: unknown) {
      recorded.set(name, String(value));
    },
    removeHeader(name: string) {
      recorded.delete(name);
      removed.add(name);
    },
  };
  let finished = false;
  helmet(options)({} as Request, recorder as unknown as Response, (error?: unknown) => {
    if (error) throw error instanceof Error ? error : new Error(String(error));
    finished = true;
  });
  if (!finished) throw new Error('helmet did not set its headers synchronously');
  // HSTS means something only over TLS (RFC 6797 8.1: a browser ignores it over plain HTTP),
  // and Keel often serves plain HTTP on a LAN: it goes only on answers to secure requests,
  // directly or through a trusted proxy (`req.secure` follows TRUST_PROXY).
  const hsts = recorded.get(HSTS_HEADER);
  recorded.delete(HSTS_HEADER);
  return { always: [...recorded], removals: [...removed], hsts };
}

/** The middleware that sets recorded headers on each answer. */
export function serveSecurityHeaders({
  always,
  removals,
  hsts,
}: RecordedSecurityHeaders): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    for (const name of removals) res.removeHeader(name);
    for (const [name, value] of always) res.setHeader(name, value);
    if (hsts !== undefined && req.secure) res.setHeader(HSTS_HEADER, hsts);
    next();
  };
}

/** helmet calls function-valued CSP directives (nonces) per request; those can't be recorded. */
function hasRequestDependentDirective(options: HelmetOptions): boolean {
  const csp = options.contentSecurityPolicy;
  if (typeof csp !== 'object' || !csp.directives) return false;
  return Object.values(csp.directives).some((value) =>
    (Array.isArray(value) ? value : [value]).some((item) => typeof item === 'function'),
  );
}
