import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'keel:isPublic';
export const ROLES = 'keel:roles';
export const STARTS_SESSION = 'keel:startsSession';

export type Role = 'admin' | 'member';

/** Opts a route out of the session requirement (the guards are global: everything else needs one). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Limits a route to callers with one of these roles (403 forbidden otherwise). */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);

/**
 * A route that signs a client in (login, setup). There an anonymous client that holds a CSRF
 * cookie must send its token: login CSRF defence for browsers (a client with no cookie at all,
 * a script or a generated client, needs none).
 */
export const StartsSession = () => SetMetadata(STARTS_SESSION, true);
