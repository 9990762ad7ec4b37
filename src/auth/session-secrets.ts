import { Injectable, Logger } from '@nestjs/common';
import { hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config.js';
import { DataDirectory } from '../config/data-directory.js';

/** What a key derived from the session secrets is for; each purpose gets keys of its own. */
export type SecretPurpose = 'anonymous-csrf' | 'session-handle';

/**
 * The secrets that sign session cookies, newest first (the first signs, all verify, so a
 * secret can be rotated without logging anyone out). From SESSION_SECRET; outside production,
 * when it is unset, one is generated once and kept in DATA_DIR so restarts keep sessions valid.
 *
 * Other uses never take a secret itself: they take keys derived from it for their purpose
 * (`keysFor`, HKDF-SHA256), so a value made with one (an anonymous CSRF token, a session handle)
 * can never be mistaken for, or reveal anything about, another (a cookie signature).
 */
@Injectable()
export class SessionSecrets {
  readonly secrets: readonly string[];
  private readonly derived = new Map<SecretPurpose, readonly Buffer[]>();

  constructor(config: AppConfig, dataDirectory: DataDirectory) {
    this.secrets = config.sessionSecrets ?? [loadOrCreate(dataDirectory)];
  }

  get signing(): string {
    return this.secrets[0];
  }

  /** One 32-byte key per secret, in the same order: the first makes, all verify. */
  keysFor(purpose: SecretPurpose): readonly Buffer[] {
    let keys = this.derived.get(purpose);
    if (!keys) {
      keys = Object.freeze(
        this.secrets.map((secret) =>
          Buffer.from(hkdfSync('sha256', secret, 'keel', `keel/${purpose}/v1`, 32)),
        ),
      );
      this.derived.set(purpose, keys);
    }
    return keys;
  }
}

const SESSION_SECRET_FILE = 'session-secret';

function loadOrCreate(dataDirectory: DataDirectory): string {
  const file = join(dataDirectory.prepare(), SESSION_SECRET_FILE);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(48).toString('base64url');
  // A new 0600 file, even where a too-short one was: writing into it would keep its mode.
  dataDirectory.writePrivateFile(SESSION_SECRET_FILE, `${secret}\n`);
  new Logger(SessionSecrets.name).log(`Generated a session secret in ${file}`);
  return secret;
}
