import { readFileSync } from 'node:fs';
import type { AppConfig } from '../config/app-config.js';
import { passwordPolicyViolation } from '../users/password-policy.js';

/**
 * The unattended admin's password, from KEEL_ADMIN_PASSWORD or the file KEEL_ADMIN_PASSWORD_FILE
 * names (a mounted secret; one trailing newline is dropped, as `echo` and editors add one).
 * Throws an error naming the variable, never the password, when it can't be used.
 */
export function readUnattendedPassword(admin: NonNullable<AppConfig['unattendedAdmin']>): string {
  let password: string;
  let source: string;
  if (admin.passwordFile !== undefined) {
    source = 'KEEL_ADMIN_PASSWORD_FILE';
    try {
      password = readFileSync(admin.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new Error(`${source}: cannot read ${admin.passwordFile} (${code})`);
    }
  } else {
    source = 'KEEL_ADMIN_PASSWORD';
    password = admin.password ?? '';
  }
  const violation = passwordPolicyViolation(password);
  if (violation) throw new Error(`${source}: the password ${violation}`);
  return password;
}
