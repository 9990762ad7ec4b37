import { FORBIDDEN_JSON_KEYS } from '../common/json-keys.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * RFC 7396 JSON merge patch: objects merge key by key, `null` removes a key, anything else
 * replaces. Returns a new object; neither input is modified.
 */
export function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else {
      result[key] = applyMergePatch(result[key], value);
    }
  }
  return result;
}

/** Deep merge for layering overrides over defaults (objects merge, the rest replaces). */
export function layer(base: JsonObject, over: JsonObject): JsonObject {
  const result: JsonObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const below = result[key];
    result[key] = isJsonObject(below) && isJsonObject(value) ? layer(below, value) : value;
  }
  return result;
}

/** Every leaf whose value differs, as dotted paths: `{"session.idleTimeoutSeconds": {from, to}}`. */
export function diffLeaves(
  before: Json | undefined,
  after: Json | undefined,
  prefix = '',
  out: Record<string, { from: Json | undefined; to: Json | undefined }> = {},
): Record<string, { from: Json | undefined; to: Json | undefined }> {
  if (isJsonObject(before) || isJsonObject(after)) {
    const left = isJsonObject(before) ? before : {};
    const right = isJsonObject(after) ? after : {};
    for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) {
      diffLeaves(left[key], right[key], prefix ? `${prefix}.${key}` : key, out);
    }
    return out;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) out[prefix] = { from: before, to: after };
  return out;
}

/** Paths of keys that are unsafe to copy (`__proto__` and friends), anywhere in `value`. */
export function findUnsafeKeys(value: unknown, prefix = ''): string[] {
  if (!isJsonObject(value)) return [];
  return Object.keys(value).flatMap((key) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return FORBIDDEN_JSON_KEYS.has(key) ? [path] : findUnsafeKeys(value[key], path);
  });
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
