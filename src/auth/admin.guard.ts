import { type CanActivate, Injectable } from '@nestjs/common';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';

/**
 * Guards admin-only routes. Until the auth issue lands there are no sessions to check, so it
 * denies everyone: an admin route is never left open. Tests override it to reach the routes.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  canActivate(): boolean {
    throw new ApiError(401, ErrorCode.Unauthenticated, 'Sign in as an admin to use this route');
  }
}
