import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { AuthSessions } from './auth-sessions.service.js';
import { CSRF_HEADER, csrfTokenMatches } from './csrf.js';
import { IS_PUBLIC, REQUIRED_ROLES, STARTS_SESSION } from '../access/decorators.js';
import type { Role } from '../access/role.js';
import { UNSAFE_METHODS } from '../common/http-methods.js';
import { csrfCookieNameFor, hasLiveSession, readCookie } from './session-cookie.js';
import type { User } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import { requestOf } from '../http/request-of.js';

/**
 * Every route needs a signed-in session unless it says `@Public()`. The user is read from the
 * database (`UsersService.findSignedIn`: reused for at most a second, forgotten at once when
 * this process changes the user), so a deleted, disabled or demoted user loses access even if
 * revoking their sessions failed; routes read it from `signedInUser(req)`.
 */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly users: UsersService,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const req = requestOf(context);
    const userId = req.session?.userId;
    // Most requests find their user read within the last second: a boolean, which Nest takes
    // without awaiting, instead of two promises per request.
    const known = userId ? this.users.recentlySignedIn(userId) : undefined;
    if (known && !known.disabled) {
      req.signedInUser = known;
      return true;
    }
    return this.readUser(req, userId);
  }

  private async readUser(req: Request, userId: string | undefined): Promise<boolean> {
    const user = userId ? await this.users.findSignedIn(userId) : undefined;
    if (!user || user.disabled) {
      if (userId) await destroySession(req);
      throw new ApiError(401, ErrorCode.Unauthenticated, 'Sign in first: POST /api/auth/login');
    }
    req.signedInUser = user;
    return true;
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by SessionGuard for the routes that need a session: the user, fresh from the database. */
    signedInUser?: User;
  }
}

/** The request's signed-in user (the route is behind SessionGuard). */
export function signedInUser(req: Request): User {
  const user = req.signedInUser;
  if (!user)
    throw new ApiError(401, ErrorCode.Unauthenticated, 'Sign in first: POST /api/auth/login');
  return user;
}

function destroySession(req: Request): Promise<void> {
  return new Promise((resolve, reject) =>
    req.session.destroy((error) => (error ? reject(error) : resolve())),
  );
}

/** `@Roles('admin')` routes refuse other roles with 403. */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(REQUIRED_ROLES, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!roles?.length) return true;
    const role = requestOf(context).signedInUser?.role;
    if (!role || !roles.includes(role)) {
      throw new ApiError(
        403,
        ErrorCode.Forbidden,
        `This route is for ${roles.join(' or ')} users only`,
      );
    }
    return true;
  }
}

/**
 * CSRF defence for cookie auth:
 * - an unsafe request that carries a live session's cookie must send `X-CSRF-Token` equal to the
 *   token bound to that session (synchronizer token);
 * - on a route that signs in (`@StartsSession()`: login, setup), an anonymous client that holds
 *   a CSRF cookie must send the same token in the header, and it must be one this server
 *   signed (signed double-submit cookie): login CSRF defence;
 * - anything else needs no token: a request without a live session (no cookie, or one that names
 *   no live session) carries no ambient authority (curl, server-to-server, a generated client).
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: AuthSessions,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const req = requestOf(context);
    if (!UNSAFE_METHODS.has(req.method)) return true;
    const given = req.headers[CSRF_HEADER];
    if (hasLiveSession(req)) {
      if (csrfTokenMatches(req.session.csrfToken, given)) return true;
      throw csrfFailed();
    }
    const startsSession = this.reflector.getAllAndOverride<boolean>(STARTS_SESSION, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!startsSession) return true;
    const held = readCookie(req, csrfCookieNameFor(req));
    if (held === undefined) return true;
    if (this.sessions.anonymousCsrf.verify(held) && csrfTokenMatches(held, given)) return true;
    throw csrfFailed();
  }
}

function csrfFailed(): ApiError {
  return new ApiError(
    403,
    ErrorCode.CsrfFailed,
    'Send the X-CSRF-Token header with the token from GET /api/auth/csrf (or from login)',
  );
}
