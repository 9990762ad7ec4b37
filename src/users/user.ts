import type { Role } from '../access/role.js';

export const EMAIL_MAX_LENGTH = 254;

/** A user as the service hands it around. Holds the hash: never send it; use `toPublicUser`. */
export interface User {
  id: string;
  username: string;
  email: string | null;
  role: Role;
  disabled: boolean;
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
}

/** What the API shows of a user (`/api/users`). Never the hash. */
export interface PublicUser {
  id: string;
  username: string;
  email: string | null;
  role: Role;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** What `/api/auth/me`, login and setup show of the signed-in user. */
export interface UserSummary {
  id: string;
  username: string;
  email: string | null;
  role: Role;
}

export function toPublicUser(user: User): PublicUser {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    role: user.role,
    disabled: user.disabled,
    createdAt: new Date(user.createdAt).toISOString(),
    updatedAt: new Date(user.updatedAt).toISOString(),
  };
}

export function toUserSummary(user: User): UserSummary {
  return { id: user.id, username: user.username, email: user.email, role: user.role };
}

/**
 * The form usernames are compared in: NFKC, then lower-cased. Stored in `username_normalized`,
 * whose unique constraint makes `Alice` and `alice` the same user on both dialects.
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

/** True when `user` counts towards the last-admin rule: an admin who can sign in. */
export function isEnabledAdmin(user: Pick<User, 'role' | 'disabled'>): boolean {
  return user.role === 'admin' && !user.disabled;
}
