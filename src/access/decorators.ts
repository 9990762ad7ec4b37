import { SetMetadata } from '@nestjs/common';
import type { Role } from './role.js';

/** Route metadata keys the global guards read. */
export const IS_PUBLIC = 'keel:isPublic';
export const REQUIRED_ROLES = 'keel:roles';
export const STARTS_SESSION = 'keel:startsSession';

/** Opts a route out of the session requirement (the guards are global: everything else needs one). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Limits a route to callers with one of these roles (403 forbidden otherwise). */
export const Roles = (...roles: Role[]) => SetMetadata(REQUIRED_ROLES, roles);

/**
 * A route that signs a client in (login, setup). There an anonymous client that holds a CSRF
 * cookie must send its token: login CSRF defence for browsers (a client with no cookie at all,
 * a script or a generated client, needs none).
 */
export const StartsSession = () => SetMetadata(STARTS_SESSION, true);
