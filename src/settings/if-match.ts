/**
 * What an `If-Match` header asks (RFC 9110 13.1.1): `*` (any current version), or a list of
 * entity tags, of which only strong ones can match (a weak `W/"3"` never does: If-Match uses
 * the strong comparison). Keel's tags are versions, `"N"`; a strong tag of another form is
 * valid syntax that matches no version.
 */
export type IfMatch = { readonly any: true } | { readonly versions: readonly number[] };

const OPAQUE_TAG = /^"([\x21\x23-\x7e\x80-\xff]*)"/;
const VERSION = /^\d{1,15}$/;

/** Parses the header; undefined when it is not `*` nor a list of entity tags. */
export function parseIfMatch(header: string): IfMatch | undefined {
  const text = header.trim();
  if (text === '*') return { any: true };
  const versions: number[] = [];
  let tags = 0;
  let rest = text;
  for (;;) {
    // Empty list elements are allowed (RFC 9110 5.6.1): `"1", , "2"`.
    rest = rest.replace(/^[ \t,]+/, '');
    if (rest.length === 0) break;
    const weak = rest.startsWith('W/');
    const tag = OPAQUE_TAG.exec(weak ? rest.slice(2) : rest);
    if (!tag) return undefined;
    tags += 1;
    if (!weak && VERSION.test(tag[1]!)) versions.push(Number(tag[1]));
    rest = rest.slice((weak ? 2 : 0) + tag[0].length).replace(/^[ \t]+/, '');
    if (rest.length > 0 && !rest.startsWith(',')) return undefined;
  }
  return tags > 0 ? { versions } : undefined;
}

export function matchesVersion(condition: IfMatch, version: number): boolean {
  return 'any' in condition || condition.versions.includes(version);
}

export function describeIfMatch(condition: IfMatch): string {
  if ('any' in condition) return 'any version';
  if (condition.versions.length === 0) return 'no version (weak tags never match)';
  return condition.versions.length === 1
    ? String(condition.versions[0])
    : `any of ${condition.versions.join(', ')}`;
}
