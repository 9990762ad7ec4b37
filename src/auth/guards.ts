import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { CSRF_HEADER, csrfTokenMatches } from './csrf.js';
import { IS_PUBLIC, ROLES, type Role } from './decorators.js';
import { hasSessionCookie } from './session-cookie.js';
import type { User } from '../users/user.js';
import { UsersService } from '../users/users.service.js';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** A session's `lastSeenAt` is rewritten at most this often, so reads stay cheap. */
const LAST_SEEN_RESOLUTION_MS = 60_000;

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

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const userId = req.session?.userId;
    const user = userId ? await this.users.findSignedIn(userId) : undefined;
    if (!user || user.disabled) {
      if (userId) await destroySession(req);
      throw new ApiError(401, ErrorCode.Unauthenticated, 'Sign in first: POST /api/auth/login');
    }
    req.signedInUser = user;
    const now = Date.now();
    if (now - (req.session.lastSeenAt ?? 0) > LAST_SEEN_RESOLUTION_MS) req.session.lastSeenAt = now;
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
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!roles?.length) return true;
    const role = context.switchToHttp().getRequest<Request>().signedInUser?.role;
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
 * CSRF defence for cookie auth: an unsafe request that carries a session cookie must send
 * `X-CSRF-Token` equal to the token bound to that session. Requests without a session cookie
 * (curl, server-to-server) carry no ambient authority and need no token.
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (!UNSAFE_METHODS.has(req.method) || !hasSessionCookie(req)) return true;
    if (!csrfTokenMatches(req.session?.csrfToken, req.headers[CSRF_HEADER])) {
      throw new ApiError(
        403,
        ErrorCode.CsrfFailed,
        'Send the X-CSRF-Token header with the token from GET /api/auth/csrf (or from login)',
      );
    }
    return true;
  }
}
