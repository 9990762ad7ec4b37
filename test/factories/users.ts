import { randomUUID } from 'node:crypto';
import type { User } from '../../src/users/user.js';

let made = 0;

/** A user as UsersService hands it around; each call a new one (`user-1`, `user-2`...). */
export function aUser(overrides: Partial<User> = {}): User {
  made += 1;
  const now = Date.now();
  return {
    id: randomUUID(),
    username: `user-${made}`,
    email: null,
    role: 'member',
    disabled: false,
    // Never checked by the units that take a User; a real hash comes from PasswordHasher.
    passwordHash: 'scrypt$not-a-real-hash',
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

export function anAdmin(overrides: Partial<User> = {}): User {
  return aUser({ role: 'admin', ...overrides });
}
