import fc from 'fast-check';
import { escapeNonAscii } from '../../deploy/bundle.js';

// deploy/bundle.js rewrites every non-ASCII character of the bundle as a \u escape, so that V8
// holds the source one byte per character (half the memory). The rewrite must not change what
// any literal means: strings, strings with a character escaped by a backslash, and regular
// expressions with and without the `u` flag.

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
process.stdout.write(`bundle source property: seed ${seed} (replay: FC_SEED=${seed})\n`);

const evaluate = (source: string): unknown => new Function(`return (${source});`)();
const ascii = /^[\0-\x7f]*$/;
const text = fc
  .string({ unit: 'binary', maxLength: 40 })
  .filter((s) => !/\p{Cs}/u.test(s) && /[^\0-\x7f]/.test(s));
/** Characters with no meaning inside a regular expression's character class. */
const classMembers = fc.array(
  fc.oneof(
    fc.constantFrom('a', 'Z', '0', ' '),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c > '\x7f'),
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
        expect(evaluate(escaped)).toBe(value);
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
});
