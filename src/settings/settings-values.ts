import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { FieldError } from '../http/api-error.js';
import { toFieldErrors, validationFailed } from '../http/validation.js';
import {
  applyMergePatch,
  findUnsafeKeys,
  isJsonObject,
  type Json,
  type JsonObject,
  layer,
} from './merge-patch.js';
import {
  BOOTSTRAP_KEYS,
  isSecretKey,
  RuntimeSettings,
  type RuntimeSettingsValues,
} from './settings.schema.js';

// What the runtime settings' values may be, and how overrides become values: pure functions
// over JSON and the schema classes, apart from SettingsService (which owns the state).

/** The defaults: the field initialisers of RuntimeSettings, as plain JSON. */
export const SETTINGS_DEFAULTS = JSON.parse(JSON.stringify(new RuntimeSettings())) as JsonObject;

export function mergeOverrides(
  overrides: JsonObject,
  patch: unknown,
  fieldPrefix = 'values',
): JsonObject {
  const fields: FieldError[] = [];
  if (!isJsonObject(patch)) {
    throw validationFailed([
      { field: fieldPrefix, message: `${fieldPrefix} must be an object (a JSON merge patch)` },
    ]);
  }
  for (const path of findUnsafeKeys(patch)) {
    fields.push({ field: `${fieldPrefix}.${path}`, message: `${path} is not an allowed key` });
  }
  for (const key of Object.keys(patch)) {
    if (BOOTSTRAP_KEYS.has(key)) {
      fields.push({
        field: `${fieldPrefix}.${key}`,
        message: `${key} is a bootstrap setting: it comes from the environment at start-up and cannot change at runtime`,
      });
    }
  }
  if (fields.length > 0) throw validationFailed(fields);
  const merged = applyMergePatch(overrides, patch as Json);
  return isJsonObject(merged) ? merged : {};
}

/** Defaults < overrides, validated by the schema classes. Throws 400 naming each bad field. */
export function resolveOverrides(
  overrides: JsonObject,
  fieldPrefix: string,
): RuntimeSettingsValues {
  const errors = validateOverrides(overrides);
  if (errors.length > 0) {
    throw validationFailed(
      errors.map((error) => ({ ...error, field: `${fieldPrefix}.${error.field}` })),
    );
  }
  return layer(SETTINGS_DEFAULTS, overrides) as unknown as RuntimeSettingsValues;
}

/** What the schema says of defaults < overrides: every group an object, every leaf its type. */
export function validateOverrides(overrides: JsonObject): FieldError[] {
  const instance = plainToInstance(RuntimeSettings, layer(SETTINGS_DEFAULTS, overrides));
  return toFieldErrors(
    validateSync(instance, {
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
    }),
  );
}

/**
 * The stored overrides with every value the schema refuses taken out (they fall back to their
 * defaults), and what was taken out. A row written by hand or by an older version must never
 * stop the boot or lock anyone out; the next change persists the overrides without them.
 */
export function usableOverrides(stored: JsonObject): {
  overrides: JsonObject;
  invalid: FieldError[];
} {
  let overrides = stored;
  const invalid: FieldError[] = [];
  const note = (field: string, message: string) => {
    if (!invalid.some((seen) => seen.field === field)) invalid.push({ field, message });
  };
  for (let round = 0; round < 10; round++) {
    const errors = validateOverrides(overrides);
    if (errors.length === 0) return { overrides, invalid };
    const next = withoutPaths(
      overrides,
      errors.map((error) => error.field),
    );
    if (JSON.stringify(next) !== JSON.stringify(overrides)) {
      for (const error of errors) note(error.field, error.message);
      overrides = next;
      continue;
    }
    // The errors are on keys that are not overridden (a default that conflicts with another
    // override, say): the groups they are in go back to their defaults whole, and say so.
    const groups = [...new Set(errors.map((error) => error.field.split('.')[0]))];
    for (const group of groups) {
      const why = errors.filter((error) => error.field.split('.')[0] === group);
      note(group, `reset to its defaults: ${why.map((error) => error.message).join('; ')}`);
    }
    overrides = withoutPaths(overrides, groups);
  }
  return { overrides: {}, invalid };
}

/** Changes as the history stores them: secret-looking keys as [masked]. */
export function maskSecrets(
  changes: Record<string, { from: unknown; to: unknown }>,
): Record<string, { from: unknown; to: unknown }> {
  return Object.fromEntries(
    Object.entries(changes).map(([key, change]) =>
      isSecretKey(key) ? [key, { from: '[masked]', to: '[masked]' }] : [key, change],
    ),
  );
}

/** A copy of `overrides` without the values at the dotted `paths` (and groups left empty). */
function withoutPaths(overrides: JsonObject, paths: string[]): JsonObject {
  const copy = JSON.parse(JSON.stringify(overrides)) as JsonObject;
  for (const path of paths) {
    const keys = path.split('.');
    let node: Json | undefined = copy;
    for (const key of keys.slice(0, -1)) node = isJsonObject(node) ? node[key] : undefined;
    if (isJsonObject(node)) delete node[keys[keys.length - 1]];
  }
  for (const [key, value] of Object.entries(copy)) {
    if (isJsonObject(value) && Object.keys(value).length === 0) delete copy[key];
  }
  return copy;
}

/** Where a setting's value comes from (`GET /api/settings` `sources`, per dotted key). */
export const SETTING_SOURCES = ['default', 'override'] as const;
export type SettingSource = (typeof SETTING_SOURCES)[number];

/** Every dotted key of the settings (`session.idleTimeoutSeconds`), in schema order. */
export const SETTING_KEYS: readonly string[] = Object.freeze(leafKeys(SETTINGS_DEFAULTS));

/** Per dotted key: `override` when the (usable) overrides set it, else `default`. */
export function sourcesOf(overrides: JsonObject): Record<string, SettingSource> {
  const overridden = new Set(leafKeys(overrides));
  return Object.fromEntries(
    SETTING_KEYS.map((key) => [key, overridden.has(key) ? 'override' : 'default']),
  );
}

function leafKeys(value: JsonObject, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, child]) =>
    isJsonObject(child) ? leafKeys(child, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}
