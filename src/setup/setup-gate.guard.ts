import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { DOCS_PATH } from '../openapi/docs-paths.js';
import { SetupService } from './setup.service.js';
import { requestOf } from '../http/request-of.js';

/** The API routes that answer before setup is complete (docs/api.md, "First-run setup"). */
const OPEN_BEFORE_SETUP = new Set(['/api/setup', '/api/auth/csrf']);

/**
 * Until setup is complete, every `/api/*` route but setup's own and the CSRF token answers
 * `503 setup_required`; health, metrics and the setup page are outside `/api` and never gated.
 *
 * A global guard that must run before the auth guards, so an anonymous `GET /api/users` hears
 * "set up first", not "sign in": global guards run in the order their modules were registered,
 * and AppModule lists SetupModule before AuthModule (test/setup/setup-gate.e2e.spec.ts checks
 * it). Not a middleware: Nest mounts module middleware as an Express route, which would become
 * `req.route` of every request no controller matched (metrics label requests by it).
 * Once setup is complete the check costs nothing (SetupService remembers).
 */
@Injectable()
export class SetupGate implements CanActivate {
  constructor(private readonly setup: SetupService) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    // Once this process knows setup is complete, a boolean (Nest takes it without awaiting).
    if (context.getType() !== 'http' || this.setup.knownComplete) return true;
    const req = requestOf(context);
    if (!isGated(routeTemplate(req))) return true;
    return this.setup.isComplete().then((complete) => {
      if (complete) return true;
      throw new ApiError(
        503,
        ErrorCode.SetupRequired,
        'First-run setup is not complete: finish it at /setup (or POST /api/setup)',
      );
    });
  }
}

/**
 * The template of the matched route as Nest registered it (`/api/auth/csrf`), not the raw path:
 * Express matches case-insensitively and ignores a trailing slash, and `/API/Setup/` must be
 * judged as the route it reaches.
 */
function routeTemplate(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  return typeof route === 'string' ? `${req.baseUrl ?? ''}${route}` : req.path;
}

export function isGated(path: string): boolean {
  const normalized = path.toLowerCase().replace(/\/+$/, '');
  if (normalized !== '/api' && !normalized.startsWith('/api/')) return false;
  // The API docs are public before setup too. They are served outside Nest's router (so this
  // guard never sees them: src/app/api-docs.ts); listed so the rule reads whole here.
  if (normalized === DOCS_PATH || normalized.startsWith(`${DOCS_PATH}/`)) return false;
  return !OPEN_BEFORE_SETUP.has(normalized);
}
