/**
 * What an `If-Match` header asks (RFC 9110 13.1.1): `*` (any current version), or a list of
 * entity tags, of which only strong ones can match (a weak `W/"3"` never does: If-Match uses
 * the strong comparison, which compares the tags character by character). Keel's tags are
 * versions, `"N"` with N written as `String(version)`; a strong tag of another form (`"007"`,
 * `"abc"`) is valid syntax that matches no version.
 */
export type IfMatch =
  | { readonly any: true }
  | {
      /** The strong tags that are version tags, as sent (`"7"` gives `7`). */
      readonly versions: readonly string[];
      /** How many weak tags the list held: they never match. */
      readonly weak: number;
      /** How many strong tags named no version (`"007"`, `"abc"`): they never match either. */
      readonly unversioned: number;
    };

const OPAQUE_TAG = /^"([\x21\x23-\x7e\x80-\xff]*)"/;
/** A version as Keel writes it in its ETag: no sign, no leading zero, at most 15 digits. */
const VERSION_TAG = /^(?:0|[1-9]\d{0,14})$/;

/** The condition an `If-Match: "N"` for this version would give. */
export function ifMatchVersion(version: number): IfMatch {
  return { versions: [String(version)], weak: 0, unversioned: 0 };
}

/** Parses the header; undefined when it is not `*` nor a list of entity tags. */
export function parseIfMatch(header: string): IfMatch | undefined {
  const text = header.trim();
  if (text === '*') return { any: true };
  const versions: string[] = [];
  let weakTags = 0;
  let unversioned = 0;
  let rest = text;
  for (;;) {
    // Empty list elements are allowed (RFC 9110 5.6.1): `"1", , "2"`.
    rest = rest.replace(/^[ \t,]+/, '');
    if (rest.length === 0) break;
    const weak = rest.startsWith('W/');
    const tag = OPAQUE_TAG.exec(weak ? rest.slice(2) : rest);
    if (!tag) return undefined;
    if (weak) weakTags += 1;
    else if (VERSION_TAG.test(tag[1]!)) versions.push(tag[1]!);
    else unversioned += 1;
    rest = rest.slice((weak ? 2 : 0) + tag[0].length).replace(/^[ \t]+/, '');
    if (rest.length > 0 && !rest.startsWith(',')) return undefined;
  }
  return versions.length + weakTags + unversioned > 0
    ? { versions, weak: weakTags, unversioned }
    : undefined;
}

/** Strong comparison: the tag is exactly the version as its ETag writes it. */
export function matchesVersion(condition: IfMatch, version: number): boolean {
  return 'any' in condition || condition.versions.includes(String(version));
}

/** The versions the condition names, for a 412's message ("not ..."). */
export function describeIfMatch(condition: IfMatch): string {
  if ('any' in condition) return 'any version';
  const { versions, weak, unversioned } = condition;
  if (versions.length === 1) return versions[0]!;
  if (versions.length > 1) return `any of ${versions.join(', ')}`;
  const reasons = [
    ...(weak > 0 ? ['weak tags never match'] : []),
    ...(unversioned > 0
      ? ['a tag that is not a version as the ETag writes it ("N", no leading zeros) never matches']
      : []),
  ];
  return `no version (${reasons.join('; ')})`;
}
