import { describeIfMatch, ifMatchVersion, matchesVersion, parseIfMatch } from './if-match.js';

/** Whether `If-Match: <header>` lets a change through at `version`. */
function allows(header: string, version: number): boolean {
  const condition = parseIfMatch(header);
  return condition !== undefined && matchesVersion(condition, version);
}

describe('If-Match (RFC 9110 13.1.1, strong comparison)', () => {
  it('matches a tag that is the version exactly as the ETag writes it', () => {
    expect(allows('"0"', 0)).toBe(true);
    expect(allows('"7"', 7)).toBe(true);
    expect(allows('"123456789012345"', 123456789012345)).toBe(true);
    expect(allows('*', 42)).toBe(true);
    expect(allows('"1", "7"', 7)).toBe(true);
    expect(matchesVersion(ifMatchVersion(3), 3)).toBe(true);
  });

  it('never matches another spelling of the number: the tags differ', () => {
    for (const [header, version] of [
      ['"000"', 0],
      ['"00"', 0],
      ['"007"', 7],
      ['"07", "0007"', 7],
      ['"+7"', 7],
      ['"7.0"', 7],
      ['"1234567890123456"', 1234567890123456],
    ] as const) {
      expect([header, allows(header, version)]).toEqual([header, false]);
    }
  });

  it('never matches a weak tag', () => {
    expect(allows('W/"3"', 3)).toBe(false);
    expect(allows('W/"3", "3"', 3)).toBe(true);
  });

  it('says why a list names no version, truly for each kind of tag', () => {
    const describe = (header: string) => describeIfMatch(parseIfMatch(header)!);
    expect(describe('W/"3"')).toBe('no version (weak tags never match)');
    expect(describe('"007"')).toBe(
      'no version (a tag that is not a version as the ETag writes it ("N", no leading zeros) never matches)',
    );
    expect(describe('"abc"')).not.toContain('weak');
    expect(describe('W/"1", "01"')).toMatch(
      /^no version \(weak tags never match; a tag that is not/,
    );
    expect(describe('"3"')).toBe('3');
    expect(describe('"3", W/"4", "5"')).toBe('any of 3, 5');
    expect(describe('*')).toBe('any version');
  });

  it('refuses what is not * nor a list of entity tags', () => {
    for (const header of ['', '0', 'three', '"0" "1"', '*, "0"', '"0", W/', ' , ']) {
      expect([header, parseIfMatch(header)]).toEqual([header, undefined]);
    }
  });
});
