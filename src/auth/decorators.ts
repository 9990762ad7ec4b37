import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'keel:isPublic';
export const ROLES = 'keel:roles';

export type Role = 'admin' | 'member';

/** Opts a route out of the session requirement (the guards are global: everything else needs one). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Limits a route to callers with one of these roles (403 forbidden otherwise). */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);
