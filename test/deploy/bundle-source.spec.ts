import fc from 'fast-check';
import {
  CHEAP_NAME_HELPER,
  cheapenNameHelper,
  ESBUILD_NAME_HELPER,
  escapeNonAscii,
} from '../../deploy/bundle.js';

// deploy/bundle.js rewrites two things in the bundle, and neither may change what it runs:
// - every non-ASCII character as a \u escape, so that V8 holds the source one byte per
//   character (half the memory): no literal may change meaning (strings, strings with a
//   character escaped by a backslash, regular expressions with and without the `u` flag);
// - esbuild's keepNames helper as one that skips functions already named (a per-request cost):
//   every function and class must end up with the same `name` property as esbuild's gives.

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
process.stdout.write(`bundle source property: seed ${seed} (replay: FC_SEED=${seed})\n`);

const evaluate = (source: string): unknown => new Function(`return (${source});`)();
const ascii = /^[\0-\x7f]*$/;
const text = fc
  .string({ unit: 'binary', maxLength: 40 })
  .filter((s) => !/\p{Cs}/u.test(s) && /[^\0-\x7f]/.test(s));
/**
 * Characters with no meaning inside a regular expression's character class. Not the line
 * terminators U+2028 and U+2029: a regular expression literal cannot hold one raw (it ends the
 * line), so no source the bundle rewrites has one there.
 */
const classMembers = fc.array(
  fc.oneof(
    fc.constantFrom('a', 'Z', '0', ' '),
    fc
      .string({ unit: 'binary', minLength: 1, maxLength: 1 })
      .filter((c) => c > '\x7f' && c !== '\u2028' && c !== '\u2029'),
  ),
  { minLength: 1, maxLength: 20 },
);

describe('escapeNonAscii (the production bundle is held one byte per character)', () => {
  it('keeps the value of any string literal, as written or with its characters escaped', () => {
    fc.assert(
      fc.property(text, fc.boolean(), (value, backslashed) => {
        const literal = JSON.stringify(value);
        const source = backslashed ? literal.replace(/[^\0-\x7f]/gu, (c) => `\\${c}`) : literal;
        const escaped = escapeNonAscii(source);
        expect(escaped).toMatch(ascii);
        // The source's own value: a backslash before U+2028 or U+2029 is a line continuation.
        expect(evaluate(escaped)).toBe(evaluate(source));
      }),
      { seed, numRuns: 500 },
    );
  });

  it('keeps what a regular expression matches, with and without the u flag', () => {
    fc.assert(
      fc.property(classMembers, fc.constantFrom('', 'i', 'u', 'iu'), (members, flags) => {
        const source = `/^[${members.join('')}]+$/${flags}`;
        const escaped = escapeNonAscii(source);
        expect(escaped).toMatch(ascii);
        const [original, rewritten] = [evaluate(source), evaluate(escaped)] as RegExp[];
        for (const probe of [...members, members.join(''), 'b', '\u00e9', '\u{1F600}']) {
          expect(rewritten.test(probe)).toBe(original.test(probe));
        }
      }),
      { seed, numRuns: 500 },
    );
  });

  it('leaves ASCII, comments and an escaped backslash alone', () => {
    expect(escapeNonAscii('const a = "x"; // caf\u00e9')).toBe('const a = "x"; // caf\\u00e9');
    expect(evaluate(escapeNonAscii('"\\\\\u00e9"'))).toBe('\\\u00e9');
    expect(escapeNonAscii('plain ascii \\n')).toBe('plain ascii \\n');
  });

  it('drops a line continuation over U+2028 or U+2029, and keeps either one that is not escaped', () => {
    for (const terminator of ['\u2028', '\u2029']) {
      expect(evaluate(escapeNonAscii(`"a\\${terminator}b"`))).toBe('ab');
      expect(evaluate(escapeNonAscii(`\`a\\${terminator}b\``))).toBe('ab');
      expect(evaluate(escapeNonAscii(`"a${terminator}b"`))).toBe(`a${terminator}b`);
    }
  });
});

type NameHelper = (target: unknown, value: string) => unknown;
/** A helper's source evaluated as the bundle has it, with esbuild's `__defProp`. */
const helperOf = (source: string): NameHelper =>
  new Function(`var __defProp = Object.defineProperty; ${source} return __name;`)() as NameHelper;

/** Source of a fresh function or class of each kind keepNames names; `name` where it has one. */
const named = fc.oneof(
  fc.constant({ kind: 'anonymous arrow', source: '() => {}' }),
  fc.constant({ kind: 'anonymous function', source: 'function () {}' }),
  fc.constantFrom('inflate', 'Session', 'ParseError', 'n$_1').chain((name) =>
    fc.constantFrom(
      { kind: 'function', source: `function ${name}() {}` },
      { kind: 'class', source: `class ${name} {}` },
      { kind: 'async function', source: `async function ${name}() {}` },
      { kind: 'class with a static name method', source: `class ${name} { static name() {} }` },
      {
        kind: 'class with a static name field',
        source: `class ${name} { static name = 'own'; }`,
      },
    ),
  ),
);

describe("cheapenNameHelper (esbuild's keepNames helper, without the per-request cost)", () => {
  const esbuild = helperOf(ESBUILD_NAME_HELPER);
  const cheap = helperOf(CHEAP_NAME_HELPER);

  it('gives every function and class the same name property as esbuild does', () => {
    const names = fc.oneof(
      fc.constantFrom('inflate', 'Session', 'ParseError', 'n$_1', 'own', ''),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(named, names, ({ source }, value) => {
        const [a, b] = [evaluate(source), evaluate(source)];
        expect(esbuild(a, value)).toBe(a);
        expect(cheap(b, value)).toBe(b);
        expect(Object.getOwnPropertyDescriptor(b, 'name')).toEqual(
          Object.getOwnPropertyDescriptor(a, 'name'),
        );
      }),
      { seed, numRuns: 500 },
    );
  });

  it('replaces the helper where esbuild put it, and refuses a bundle without it or with two', () => {
    const bundle = `var __defProp = Object.defineProperty;\n${ESBUILD_NAME_HELPER}\nf();`;
    expect(cheapenNameHelper(bundle)).toBe(
      `var __defProp = Object.defineProperty;\n${CHEAP_NAME_HELPER}\nf();`,
    );
    expect(() => cheapenNameHelper('var __name = (t, v) => t;')).toThrow(/keepNames helper/);
    expect(() => cheapenNameHelper(`${ESBUILD_NAME_HELPER}\n${ESBUILD_NAME_HELPER}`)).toThrow(
      /exactly once/,
    );
  });
});
