import { Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config.js';

/**
 * The secrets that sign session cookies, newest first (the first signs, all verify, so a
 * secret can be rotated without logging anyone out). From SESSION_SECRET; outside production,
 * when it is unset, one is generated once and kept in DATA_DIR so restarts keep sessions valid.
 */
@Injectable()
export class SessionSecrets {
  readonly secrets: readonly string[];

  constructor(config: AppConfig) {
    this.secrets = config.sessionSecrets ?? [loadOrCreate(config.dataDir)];
  }

  get signing(): string {
    return this.secrets[0];
  }
}

function loadOrCreate(dataDir: string): string {
  const file = join(dataDir, 'session-secret');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  new Logger(SessionSecrets.name).log(`Generated a session secret in ${file}`);
  return secret;
}
