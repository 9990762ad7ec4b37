import { readFileSync } from 'node:fs';
import type { AppConfig } from '../config/app-config.js';
import type { PasswordHasher } from '../users/password-hasher.js';
import { passwordPolicyViolation } from '../users/password-policy.js';

type UnattendedAdmin = NonNullable<AppConfig['unattendedAdmin']>;

/**
 * The stored hash of the unattended admin's password: KEEL_ADMIN_PASSWORD_HASH as given (the
 * start-up then spends no scrypt derivation, about 0.3-0.4 s of CPU), else the password hashed
 * now. Throws an error naming the variable, never its value, when it can't be used.
 */
export async function unattendedPasswordHash(
  admin: UnattendedAdmin,
  hasher: PasswordHasher,
): Promise<string> {
  if (admin.passwordHash === undefined) return hasher.hash(readUnattendedPassword(admin));
  // The shape was checked at boot (environment.ts); a hash this Keel would upgrade at the next
  // sign-in is weaker than what it stores, and is refused rather than kept until then.
  if (hasher.needsRehash(admin.passwordHash)) {
    const { logN, r, p } = hasher.parameters;
    throw new Error(
      `KEEL_ADMIN_PASSWORD_HASH: not a scrypt hash as strong as this Keel's (ln=${logN},r=${r},p=${p}); make one with \`npm run hash-password\``,
    );
  }
  return admin.passwordHash;
}

/**
 * The unattended admin's password, from KEEL_ADMIN_PASSWORD or the file KEEL_ADMIN_PASSWORD_FILE
 * names (a mounted secret; one trailing newline is dropped, as `echo` and editors add one).
 * Throws an error naming the variable, never the password, when it can't be used.
 */
export function readUnattendedPassword(admin: UnattendedAdmin): string {
  let password: string;
  let source: string;
  if (admin.passwordFile !== undefined) {
    source = 'KEEL_ADMIN_PASSWORD_FILE';
    try {
      password = withoutFinalNewline(readFileSync(admin.passwordFile, 'utf8'));
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

/** A password as written to a file or a pipe: one trailing newline (`echo`, editors) dropped. */
export function withoutFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}
