/**
 * Keys that reach an object's prototype when a merge or a transformer copies them. No Keel
 * field has these names: request bodies (while parsing) and settings patches refuse them.
 */
export const FORBIDDEN_JSON_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);
