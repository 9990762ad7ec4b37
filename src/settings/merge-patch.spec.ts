import { applyMergePatch, diffLeaves, findUnsafeKeys, type Json } from './merge-patch.js';

describe('applyMergePatch (RFC 7396)', () => {
  // The test cases of RFC 7396, appendix A.
  it.each<[Json, Json, Json]>([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j patched with %j is %j', (target, patch, expected) => {
    const before = JSON.stringify(target);
    expect(applyMergePatch(target, patch)).toEqual(expected);
    expect(JSON.stringify(target)).toBe(before);
  });
});

describe('diffLeaves', () => {
  it('names each changed leaf by its dotted path', () => {
    expect(
      diffLeaves(
        { siteName: 'Keel', session: { idle: 1, absolute: 2 } },
        { siteName: 'Keel', session: { idle: 5, absolute: 2 } },
      ),
    ).toEqual({ 'session.idle': { from: 1, to: 5 } });
  });
});

describe('findUnsafeKeys', () => {
  it('finds prototype-reaching keys at any depth', () => {
    const parsed = JSON.parse('{"a": {"__proto__": {"x": 1}}, "constructor": 1}') as Json;
    expect(findUnsafeKeys(parsed).sort()).toEqual(['a.__proto__', 'constructor']);
  });
});
