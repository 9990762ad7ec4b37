import { Inject, Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { randomUUID } from 'node:crypto';
import { ApiError } from '../http/api-error.js';
import { DependencyUnavailableError } from '../http/dependency-unavailable.js';
import { ErrorCode } from '../http/error-codes.js';
import { SESSION_STORE_RETRY_AFTER_SECONDS } from '../session-cache/session-backend.js';
import { PasswordHasher } from './password-hasher.js';
import type { Role } from '../access/role.js';
import { isEnabledAdmin, type User } from './user.js';
import { USER_SESSION_REVOKER, type UserSessionRevoker } from './user-session-revoker.js';
import { type UserChanges, UsersRepository } from './users.repository.js';

export interface NewUser {
  username: string;
  password: string;
  email?: string | null;
  role: Role;
}

export interface UserUpdate {
  email?: string | null;
  role?: Role;
  disabled?: boolean;
  password?: string;
}

export interface UpdateOptions {
  /** The session to keep when the change revokes the user's sessions (own password change). */
  keepSessionId?: string;
}

/**
 * How long SessionGuard may reuse a user it read. This process forgets a user the moment it
 * changes them; another replica's change reaches this one within the TTL (and the sessions it
 * revoked are gone from the shared backend at once).
 */
export const SIGNED_IN_USER_TTL_MS = 1000;

/** Users are named by random UUIDs; anything else names no user, without asking the database. */
const USER_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Users and their invariants: usernames unique case-insensitively, passwords stored only as
 * scrypt hashes, and always at least one enabled admin (the last one cannot be deleted,
 * demoted or disabled: `409 last_admin`). Changes that take access away end the user's
 * sessions after they commit.
 */
@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);
  /** The users signed-in requests read, kept briefly: a read per request was 25% of `me`. */
  private readonly signedIn = new LRUCache<string, User>({
    max: 10_000,
    ttl: SIGNED_IN_USER_TTL_MS,
  });

  constructor(
    private readonly repository: UsersRepository,
    private readonly hasher: PasswordHasher,
    @Inject(USER_SESSION_REVOKER) private readonly revoker: UserSessionRevoker,
  ) {}

  /** Creates a user. `409 username_taken` when the name exists in any letter case. */
  async create(input: NewUser): Promise<User> {
    const now = Date.now();
    const user: User = {
      id: randomUUID(),
      username: input.username,
      email: input.email ?? null,
      role: input.role,
      disabled: false,
      passwordHash: await this.hasher.hash(input.password),
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.repository.insert(user))) {
      throw new ApiError(
        409,
        ErrorCode.UsernameTaken,
        `The username "${input.username}" is taken (usernames ignore letter case): choose another`,
      );
    }
    this.logger.log(`User ${user.id} (${user.username}) created with role ${user.role}`);
    return user;
  }

  findById(id: string): Promise<User | undefined> {
    if (!USER_ID_PATTERN.test(id)) return Promise.resolve(undefined);
    return this.repository.findById(id);
  }

  /** The user behind a session, for the auth guard: `findById`, reused for up to a second. */
  async findSignedIn(id: string): Promise<User | undefined> {
    const known = this.recentlySignedIn(id);
    if (known) return known;
    const user = await this.findById(id);
    if (user) this.signedIn.set(id, user);
    return user;
  }

  /**
   * The user `findSignedIn` read for this id within the last second, if any: lets the auth
   * guard answer most requests without a promise.
   */
  recentlySignedIn(id: string): User | undefined {
    return this.signedIn.get(id);
  }

  /** Finds a user by username in any letter case. */
  findByUsername(username: string): Promise<User | undefined> {
    return this.repository.findByUsername(username);
  }

  list(): Promise<User[]> {
    return this.repository.list();
  }

  /** Admins who can sign in. */
  countEnabledAdmins(): Promise<number> {
    return this.repository.countEnabledAdmins();
  }

  /**
   * The user whose username and password these are, or undefined; the same answer and the same
   * scrypt work whether the user is unknown, disabled or the password wrong. A hash made with
   * weaker parameters than the current ones is replaced on success.
   */
  async verifyCredentials(username: string, password: string): Promise<User | undefined> {
    const user = await this.repository.findByUsername(username);
    if (!user) {
      await this.hasher.verifyAgainstDummy(password);
      return undefined;
    }
    const matches = await this.hasher.verify(password, user.passwordHash);
    if (!matches || user.disabled) return undefined;
    if (this.hasher.needsRehash(user.passwordHash)) await this.rehash(user, password);
    return user;
  }

  /**
   * Changes email, role, disabled or password. `404 not_found` for an unknown id; `409
   * last_admin` when it would leave no enabled admin. Demoting, disabling or setting a new
   * password ends the user's sessions (but `options.keepSessionId`).
   */
  async update(id: string, update: UserUpdate, options: UpdateOptions = {}): Promise<User> {
    if (!USER_ID_PATTERN.test(id)) throw notFound();
    // Hash before the transaction: scrypt takes a while, and row locks should not wait on it.
    const passwordHash =
      update.password === undefined ? undefined : await this.hasher.hash(update.password);
    const changes: UserChanges = {
      email: update.email,
      role: update.role,
      disabled: update.disabled,
      passwordHash,
    };
    const now = Date.now();
    const { before, after } = await this.repository.withAdminsLocked(id, async (locked, writer) => {
      const before = locked.target;
      if (!before) throw notFound();
      const after: User = {
        ...before,
        ...definedOnly(changes),
        updatedAt: now,
      };
      if (isEnabledAdmin(before) && !isEnabledAdmin(after)) {
        refuseIfLastAdmin(
          locked.enabledAdminIds,
          before.role !== after.role ? 'demote' : 'disable',
        );
      }
      await writer.update(id, changes, now);
      return { before, after };
    });
    this.signedIn.delete(id);
    this.logger.log(`User ${id} updated: ${describeChanges(before, after, passwordHash)}`);
    // A repeated `disabled: true` revokes again, so a request that failed at this step can be
    // retried as it was.
    const takesAccessAway =
      update.disabled === true ||
      (before.role === 'admin' && after.role !== 'admin') ||
      passwordHash !== undefined;
    if (takesAccessAway) await this.revokeSessions(id, options.keepSessionId);
    return after;
  }

  /** Deletes a user and ends their sessions. `404 not_found`; `409 last_admin`. */
  async delete(id: string): Promise<void> {
    if (!USER_ID_PATTERN.test(id)) throw notFound();
    await this.repository.withAdminsLocked(id, async (locked, writer) => {
      const target = locked.target;
      if (!target) throw notFound();
      if (isEnabledAdmin(target)) refuseIfLastAdmin(locked.enabledAdminIds, 'delete');
      await writer.delete(id);
    });
    this.signedIn.delete(id);
    this.logger.log(`User ${id} deleted`);
    await this.revokeSessions(id);
  }

  /**
   * Runs after the change committed: the change stands either way. If the session store cannot
   * be reached the caller hears `503 session_store_unavailable`, not a success, because the
   * user may still be signed in. (So that such a session gains nothing, the auth guard must
   * read role and disabled from the user row on each request, not from the session.)
   */
  private async revokeSessions(userId: string, keepSessionId?: string): Promise<void> {
    try {
      const ended = await this.revoker.revokeAll(userId, keepSessionId);
      if (ended > 0) this.logger.log(`Ended ${ended} session(s) of user ${userId}`);
    } catch (error) {
      this.logger.error(
        `The change to user ${userId} is saved, but their sessions could not be ended: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      // Retry-After as on every other session_store_unavailable (unavailableAnswer).
      const retryAfter =
        error instanceof DependencyUnavailableError
          ? error.retryAfterSeconds
          : SESSION_STORE_RETRY_AFTER_SECONDS;
      throw new ApiError(
        503,
        ErrorCode.SessionStoreUnavailable,
        'The change is saved, but the session store could not be reached to sign the user out: their sessions end at their timeouts, or retry when the store is back',
        undefined,
        { 'Retry-After': String(retryAfter) },
      );
    }
  }

  private async rehash(user: User, password: string): Promise<void> {
    try {
      const replaced = await this.repository.replacePasswordHash(
        user.id,
        user.passwordHash,
        await this.hasher.hash(password),
      );
      if (replaced) this.logger.log(`Password hash of user ${user.id} upgraded`);
    } catch (error) {
      // The old hash still verifies; the upgrade is retried at the next sign-in.
      this.logger.warn(
        `Could not upgrade the password hash of user ${user.id}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }
}

function notFound(): ApiError {
  return new ApiError(404, ErrorCode.NotFound, 'No user has this id');
}

function refuseIfLastAdmin(enabledAdminIds: string[], action: 'delete' | 'demote' | 'disable') {
  if (enabledAdminIds.length > 1) return;
  throw new ApiError(
    409,
    ErrorCode.LastAdmin,
    `This is the last enabled admin and cannot be ${action === 'delete' ? 'deleted' : action === 'demote' ? 'demoted' : 'disabled'}: make another user admin first`,
  );
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

/** Which fields changed, for the log: names and roles, never the hash or the email. */
function describeChanges(before: User, after: User, passwordHash: string | undefined): string {
  const parts: string[] = [];
  if (before.role !== after.role) parts.push(`role ${before.role} -> ${after.role}`);
  if (before.disabled !== after.disabled) parts.push(after.disabled ? 'disabled' : 'enabled');
  if (before.email !== after.email) parts.push('email changed');
  if (passwordHash !== undefined) parts.push('password set');
  return parts.length > 0 ? parts.join(', ') : 'nothing changed';
}
