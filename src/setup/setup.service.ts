import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { LoginAttemptLimiter } from '../auth/login-attempts.js';
import { AppConfig } from '../config/app-config.js';
import { ApiError } from '../http/api-error.js';
import { ErrorCode } from '../http/error-codes.js';
import { SettingsService } from '../settings/settings.service.js';
import { PasswordHasher } from '../users/password-hasher.js';
import type { User } from '../users/user.js';
import { hashSetupToken, setupTokenHashesMatch } from './setup-token.js';
import { SetupTokens } from './setup-tokens.js';
import { SetupRepository } from './setup.repository.js';
import { unattendedPasswordHash } from './unattended-admin.js';

/** Failed token attempts are counted per client address under this scope (auth.loginMaxAttempts). */
const LIMIT_SCOPE = 'setup' as const;

export type SetupStatus = { required: true } | { required: false; completedAt: string };

/** Whether the initial settings a setup request asked for are in force. */
export type InitialSettingsOutcome = { applied: true } | { applied: false; error: string };

export interface CompletedSetup {
  admin: User;
  /** Present when the request asked for initial settings. */
  settings?: InitialSettingsOutcome;
}

export interface SetupRequest {
  token: string | undefined;
  admin: { username: string; password: string; email?: string | null };
  /** A merge patch of the runtime settings, as `PATCH /api/settings` takes it; undefined: none. */
  settings: unknown;
  /** The client's address, for the attempt limit. */
  ip: string;
}

/**
 * First-run setup: whether it is done (the database says; once done it stays done, so this
 * process remembers it and stops asking), completing it with the token (or unattended, from
 * the environment), and the start-up work that gets a replica there.
 */
@Injectable()
export class SetupService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(SetupService.name);
  /** Set once this process knows setup is complete; it never goes back. */
  private completedAt: number | undefined;
  /** The unattended admin's password hash, begun in onModuleInit; undefined: hash it later. */
  private unattendedPasswordHash: Promise<string | undefined> = Promise.resolve(undefined);

  constructor(
    private readonly config: AppConfig,
    private readonly repository: SetupRepository,
    private readonly tokens: SetupTokens,
    private readonly hasher: PasswordHasher,
    private readonly settings: SettingsService,
    private readonly limiter: LoginAttemptLimiter,
  ) {}

  /**
   * With KEEL_ADMIN_USERNAME, starts hashing its password now, before the migrations, unless the
   * database says setup is complete: scrypt runs in the thread pool while the event loop waits
   * on the database (PostgreSQL), instead of after it. A database without the setup table yet
   * (fresh) counts as not set up. A restart of a set-up instance hashes nothing, nor does a
   * start with KEEL_ADMIN_PASSWORD_HASH (a ready hash). Never throws: whatever goes wrong
   * here, onApplicationBootstrap does it again and says why.
   */
  onModuleInit(): void {
    const unattended = this.config.unattendedAdmin;
    if (!unattended) return;
    this.unattendedPasswordHash = this.repository
      .load()
      .then(
        (state) => state.completedAt === null,
        () => true,
      )
      .then((required) => (required ? unattendedPasswordHash(unattended, this.hasher) : undefined))
      .catch(() => undefined);
  }

  /**
   * Runs after migrations and the settings load (this module imports theirs). Setup complete:
   * nothing to do. Otherwise, KEEL_ADMIN_USERNAME completes it here; else a token is readied.
   */
  async onApplicationBootstrap(): Promise<void> {
    const state = await this.repository.load();
    if (state.completedAt !== null) {
      this.learnCompleted(state.completedAt);
      return;
    }
    if (this.config.unattendedAdmin) {
      await this.completeUnattended(this.config.unattendedAdmin);
      return;
    }
    await this.tokens.prepare(state);
  }

  /** True once this process knows setup is complete (it never goes back); false: ask `isComplete`. */
  get knownComplete(): boolean {
    return this.completedAt !== undefined;
  }

  /**
   * True once setup is complete. While it is not, every call reads the database (one primary-key
   * read), so this replica sees at once that another one completed it.
   */
  async isComplete(): Promise<boolean> {
    return (await this.completionTime()) !== undefined;
  }

  async status(): Promise<SetupStatus> {
    const completedAt = await this.completionTime();
    return completedAt === undefined
      ? { required: true }
      : { required: false, completedAt: new Date(completedAt).toISOString() };
  }

  /**
   * `POST /api/setup`: checks the token and the initial settings (schema and preflight) before
   * writing anything, then creates the admin and marks setup complete in one transaction, then
   * applies the settings through SettingsService (so the session cache swaps through the same
   * path as any change). Resolves to the new admin, for the caller to sign in, and whether the
   * initial settings are in force: setup stands even when they are not.
   * 409 `setup_completed` (whatever the token), 429 after too many bad tokens from this
   * address, 401 `setup_token_invalid`, 400/422 from the settings.
   */
  async complete(request: SetupRequest): Promise<CompletedSetup> {
    if (await this.isComplete()) throw setupCompleted();
    // Setup has no username: attempts count per address, so one address cannot lock out the
    // operator's.
    const attempt = await this.limiter.reserve(LIMIT_SCOPE, request.ip);
    const tokenHash = hashSetupToken(request.token ?? '');
    // Only a wrong token counts: setup already done, or the database down, leaves it uncounted.
    const state = await attempt.judge(this.repository.load());
    if (state.completedAt !== null) {
      await attempt.cancelled();
      this.learnCompleted(state.completedAt);
      throw setupCompleted();
    }
    if (!request.token || !setupTokenHashesMatch(state.tokenHash, tokenHash)) {
      throw setupTokenInvalid();
    }
    await attempt.succeeded();
    if (request.settings !== undefined) await this.settings.check(request.settings, 'settings');

    // Hash before the transaction: scrypt takes a while, and the claim should not wait on it.
    const admin = await this.newAdmin(request.admin);
    const completedAt = Date.now();
    const outcome = await this.repository.completeWithAdmin(admin, completedAt, tokenHash);
    switch (outcome) {
      case 'already-completed':
        await this.isComplete();
        throw setupCompleted();
      case 'token-invalid':
        throw setupTokenInvalid();
      case 'username-taken':
        throw new ApiError(
          409,
          ErrorCode.UsernameTaken,
          `The username "${admin.username}" is taken (usernames ignore letter case): choose another`,
        );
    }
    this.learnCompleted(completedAt);
    this.logger.log(`Setup complete: first admin ${admin.id} (${admin.username}) created`);
    if (request.settings === undefined) return { admin };
    return { admin, settings: await this.applyInitialSettings(request.settings, admin) };
  }

  private async completeUnattended(
    unattended: NonNullable<AppConfig['unattendedAdmin']>,
  ): Promise<void> {
    const passwordHash =
      (await this.unattendedPasswordHash) ??
      (await unattendedPasswordHash(unattended, this.hasher));
    const admin = this.adminRecord({ username: unattended.username }, passwordHash);
    const completedAt = Date.now();
    const outcome = await this.repository.completeWithAdmin(admin, completedAt);
    if (outcome === 'username-taken') {
      throw new Error(
        `KEEL_ADMIN_USERNAME: a user named "${admin.username}" exists already; choose another name`,
      );
    }
    if (outcome === 'completed') {
      this.learnCompleted(completedAt);
      this.logger.log(
        `Setup completed unattended: first admin ${admin.id} (${admin.username}) created from KEEL_ADMIN_USERNAME`,
      );
    } else {
      // Another replica started with the same variables and got there first.
      await this.isComplete();
      this.logger.log('Setup was completed meanwhile by another replica');
    }
  }

  /**
   * The settings passed the schema and the preflight moments ago, and the admin is committed:
   * setup stands either way. If applying fails now (the backend went away in between, or died
   * mid-swap), nothing of them is stored, the defaults stay in force, and the answer says so.
   */
  private async applyInitialSettings(patch: unknown, admin: User): Promise<InitialSettingsOutcome> {
    try {
      const current = await this.settings.refresh();
      await this.settings.update(patch, current.version, admin.username);
      return { applied: true };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn(
        `Setup is complete, but its initial settings could not be applied (the defaults are in force; change them with PATCH /api/settings): ${message}`,
      );
      return { applied: false, error: message };
    }
  }

  private async newAdmin(input: SetupRequest['admin']): Promise<User> {
    return this.adminRecord(input, await this.hasher.hash(input.password));
  }

  private adminRecord(
    input: Pick<SetupRequest['admin'], 'username' | 'email'>,
    passwordHash: string,
  ): User {
    const now = Date.now();
    return {
      id: randomUUID(),
      username: input.username,
      email: input.email ?? null,
      role: 'admin',
      disabled: false,
      passwordHash,
      createdAt: now,
      updatedAt: now,
    };
  }

  private async completionTime(): Promise<number | undefined> {
    if (this.completedAt !== undefined) return this.completedAt;
    const { completedAt } = await this.repository.load();
    if (completedAt !== null) this.learnCompleted(completedAt);
    return this.completedAt;
  }

  private learnCompleted(at: number): void {
    if (this.completedAt !== undefined) return;
    this.completedAt = at;
    this.tokens.forget();
  }
}

function setupCompleted(): ApiError {
  return new ApiError(
    409,
    ErrorCode.SetupCompleted,
    'Setup is already complete: sign in at POST /api/auth/login',
  );
}

function setupTokenInvalid(): ApiError {
  return new ApiError(
    401,
    ErrorCode.SetupTokenInvalid,
    'The setup token is missing or wrong: use the token from the server log or DATA_DIR/setup-token (or SETUP_TOKEN)',
  );
}
