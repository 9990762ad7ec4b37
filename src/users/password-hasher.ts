import { Inject, Injectable, Optional } from '@nestjs/common';
import { randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';
import { SCRYPT_HASH_PATTERN } from '../common/scrypt-hash.js';

/** The cost of one scrypt derivation; stored beside every hash so it can be raised later. */
export interface ScryptParameters {
  /** log2 of N, the CPU/memory cost. */
  logN: number;
  /** Block size. */
  r: number;
  /** Parallelization. */
  p: number;
  saltBytes: number;
  keyBytes: number;
}

/**
 * OWASP Password Storage Cheat Sheet: scrypt with N=2^17, r=8, p=1 (128 MiB, about 0.3 s here).
 * Production always uses these; only tests inject cheaper ones through PASSWORD_HASHER_OPTIONS.
 */
export const OWASP_SCRYPT_PARAMETERS: Readonly<ScryptParameters> = Object.freeze({
  logN: 17,
  r: 8,
  p: 1,
  saltBytes: 16,
  keyBytes: 32,
});

/** Injection token for the hasher's parameters (a `Partial<ScryptParameters>` over the OWASP ones). */
export const PASSWORD_HASHER_OPTIONS = Symbol('PASSWORD_HASHER_OPTIONS');

/**
 * The most a stored hash may ask for. The hash column is trusted, but a corrupt or hostile row
 * must not make one login allocate gigabytes or spin for minutes.
 */
const MAX_MEMORY_BYTES = 1024 * 1024 * 1024;
const MAX_P = 16;

interface ParsedHash {
  parameters: ScryptParameters;
  salt: Buffer;
  key: Buffer;
}

/**
 * Hashes and verifies passwords with Node's scrypt, off the event loop (libuv's thread pool,
 * which also bounds how many 128 MiB derivations run at once). Passwords are NFKC-normalized
 * first (NIST SP 800-63B 5.1.1.2), so the same password typed as composed or decomposed
 * Unicode verifies.
 */
@Injectable()
export class PasswordHasher {
  readonly parameters: Readonly<ScryptParameters>;
  /** A salt and key no password matches, for verifying against when the user does not exist. */
  private readonly dummy: { salt: Buffer; key: Buffer };

  constructor(@Optional() @Inject(PASSWORD_HASHER_OPTIONS) options?: Partial<ScryptParameters>) {
    const parameters = { ...OWASP_SCRYPT_PARAMETERS, ...options };
    if (!withinLimits(parameters)) {
      throw new Error(`Invalid scrypt parameters: ${JSON.stringify(parameters)}`);
    }
    this.parameters = Object.freeze(parameters);
    this.dummy = {
      salt: randomBytes(parameters.saltBytes),
      key: randomBytes(parameters.keyBytes),
    };
  }

  /** A self-describing hash: `$scrypt$ln=17,r=8,p=1$<salt b64>$<key b64>`. */
  async hash(password: string): Promise<string> {
    const { logN, r, p, saltBytes } = this.parameters;
    const salt = randomBytes(saltBytes);
    const key = await derive(password, salt, this.parameters);
    return `$scrypt$ln=${logN},r=${r},p=${p}$${toB64(salt)}$${toB64(key)}`;
  }

  /** True when `password` matches `stored`; false for a wrong password or a malformed hash. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (!parsed) return false;
    const key = await derive(password, parsed.salt, {
      ...parsed.parameters,
      keyBytes: parsed.key.length,
    });
    return timingSafeEqual(key, parsed.key);
  }

  /**
   * Spends what a `verify` against a current-parameters hash spends, and answers false. Call it
   * when the username is unknown, so an unknown user and a wrong password take the same time.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    const key = await derive(password, this.dummy.salt, this.parameters);
    timingSafeEqual(key, this.dummy.key);
    return false;
  }

  /**
   * True when `stored` was made with weaker parameters than the current ones (or is not a hash
   * this class can read): rehash the password after the next successful verify.
   */
  needsRehash(stored: string): boolean {
    const parsed = parse(stored);
    if (!parsed) return true;
    const current = this.parameters;
    return (
      parsed.parameters.logN < current.logN ||
      parsed.parameters.r < current.r ||
      parsed.parameters.p < current.p ||
      parsed.salt.length < current.saltBytes ||
      parsed.key.length < current.keyBytes
    );
  }
}

function withinLimits(parameters: ScryptParameters): boolean {
  const { logN, r, p, saltBytes, keyBytes } = parameters;
  const integers = [logN, r, p, saltBytes, keyBytes].every(Number.isInteger);
  return (
    integers &&
    logN >= 1 &&
    r >= 1 &&
    p >= 1 &&
    p <= MAX_P &&
    saltBytes >= 16 &&
    keyBytes >= 16 &&
    keyBytes <= 64 &&
    workingSet(parameters) <= MAX_MEMORY_BYTES
  );
}

/** scrypt's memory: the V array (128 * r * N) plus the p blocks (128 * r * p). */
function workingSet({ logN, r, p }: ScryptParameters): number {
  return 128 * r * (2 ** logN + p);
}

function derive(password: string, salt: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  const options: ScryptOptions = {
    N: 2 ** parameters.logN,
    r: parameters.r,
    p: parameters.p,
    // Node refuses derivations above maxmem (32 MiB by default); leave headroom over the
    // working set for OpenSSL's own bookkeeping.
    maxmem: workingSet(parameters) + 16 * 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, parameters.keyBytes, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

function parse(stored: string): ParsedHash | undefined {
  const match = SCRYPT_HASH_PATTERN.exec(stored);
  if (!match) return undefined;
  const salt = Buffer.from(match[4], 'base64');
  const key = Buffer.from(match[5], 'base64');
  // Node decodes sloppy base64 leniently; only the exact encoding of some bytes is ours.
  if (toB64(salt) !== match[4] || toB64(key) !== match[5]) return undefined;
  const parameters: ScryptParameters = {
    logN: Number(match[1]),
    r: Number(match[2]),
    p: Number(match[3]),
    saltBytes: salt.length,
    keyBytes: key.length,
  };
  return withinLimits(parameters) ? { parameters, salt, key } : undefined;
}

function toB64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
