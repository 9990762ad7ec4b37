import { performance } from 'node:perf_hooks';
import { OWASP_SCRYPT_PARAMETERS, PasswordHasher } from './password-hasher.js';

// Cheap parameters keep the suite fast; production uses OWASP_SCRYPT_PARAMETERS (tested once below).
const cheap = () => new PasswordHasher({ logN: 10 });

const PASSWORD = 'correct horse battery staple';

describe('PasswordHasher', () => {
  it('verifies the password it hashed, and refuses another', async () => {
    const hasher = cheap();
    const stored = await hasher.hash(PASSWORD);
    expect(await hasher.verify(PASSWORD, stored)).toBe(true);
    expect(await hasher.verify('correct horse battery stapl', stored)).toBe(false);
    expect(await hasher.verify(`${PASSWORD} `, stored)).toBe(false);
  });

  it('stores the parameters, salt and key in one self-describing string, never the password', async () => {
    const stored = await cheap().hash(PASSWORD);
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(stored).not.toContain(PASSWORD);
    // Another hasher reads the parameters from the string, whatever its own are.
    expect(await new PasswordHasher({ logN: 11, r: 4 }).verify(PASSWORD, stored)).toBe(true);
  });

  it('salts every hash anew', async () => {
    const hasher = cheap();
    const [a, b] = await Promise.all([hasher.hash(PASSWORD), hasher.hash(PASSWORD)]);
    expect(a).not.toBe(b);
    expect(a.split('$')[3]).not.toBe(b.split('$')[3]);
  });

  it('treats the same password in composed and decomposed Unicode as one (NFKC)', async () => {
    const hasher = cheap();
    const stored = await hasher.hash('caf\u00e9 au lait, bitte');
    expect(await hasher.verify('cafe\u0301 au lait, bitte', stored)).toBe(true);
  });

  it('answers false for a malformed or hostile stored hash instead of throwing', async () => {
    const hasher = cheap();
    const stored = await hasher.hash(PASSWORD);
    for (const bad of [
      '',
      'plaintext',
      stored.replace('$scrypt$', '$argon2id$'),
      stored.replace('ln=10', 'ln=30'), // 128 GiB: refused before allocating anything
      stored.slice(0, -10),
    ]) {
      expect(await hasher.verify(PASSWORD, bad)).toBe(false);
    }
  });

  it('asks for a rehash when the stored parameters are below the current ones', async () => {
    const weak = await new PasswordHasher({ logN: 10 }).hash(PASSWORD);
    const current = new PasswordHasher({ logN: 12 });
    expect(current.needsRehash(weak)).toBe(true);
    expect(current.needsRehash(await new PasswordHasher({ logN: 12, r: 4 }).hash(PASSWORD))).toBe(
      true,
    );
    expect(current.needsRehash(await current.hash(PASSWORD))).toBe(false);
    // Stronger than current is fine: never downgrade.
    expect(current.needsRehash(await new PasswordHasher({ logN: 13 }).hash(PASSWORD))).toBe(false);
    expect(current.needsRehash('not a hash')).toBe(true);
  });

  it('refuses parameters it could not run safely', () => {
    expect(() => new PasswordHasher({ logN: 0 })).toThrow(/Invalid scrypt parameters/);
    expect(() => new PasswordHasher({ logN: 24 })).toThrow(/Invalid scrypt parameters/);
    expect(() => new PasswordHasher({ saltBytes: 8 })).toThrow(/Invalid scrypt parameters/);
  });

  it('a dummy verify (unknown user) costs about what a real verify costs', async () => {
    // Parameters costly enough (16 MiB, tens of ms) that scrypt, not noise, dominates.
    const hasher = new PasswordHasher({ logN: 14 });
    const stored = await hasher.hash(PASSWORD);
    const real: number[] = [];
    const dummy: number[] = [];
    for (let round = 0; round < 7; round++) {
      let start = performance.now();
      await hasher.verify('a wrong password!', stored);
      real.push(performance.now() - start);
      start = performance.now();
      expect(await hasher.verifyAgainstDummy('a wrong password!')).toBe(false);
      dummy.push(performance.now() - start);
    }
    // The fastest of each: other work on a shared 2-core machine only ever adds time, so the
    // minimums are what one scrypt costs (medians failed under a parallel test run: 0.35, 2.4).
    const ratio = Math.min(...dummy) / Math.min(...real);
    // Coarse on purpose: the point is "one scrypt, not none".
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it('uses the OWASP parameters by default (N=2^17, r=8, p=1, 16-byte salt, 32-byte key)', async () => {
    const hasher = new PasswordHasher();
    expect(hasher.parameters).toEqual(OWASP_SCRYPT_PARAMETERS);
    expect(OWASP_SCRYPT_PARAMETERS).toEqual({ logN: 17, r: 8, p: 1, saltBytes: 16, keyBytes: 32 });
    const stored = await hasher.hash(PASSWORD);
    expect(stored.startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);
    expect(await hasher.verify(PASSWORD, stored)).toBe(true);
    expect(hasher.needsRehash(stored)).toBe(false);
    expect(hasher.needsRehash(await cheap().hash(PASSWORD))).toBe(true);
  });
});
