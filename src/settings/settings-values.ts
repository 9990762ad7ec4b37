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
import type { AppConfig } from '../config/app-config.js';
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

/**
 * The defaults the bootstrap environment gives, over SETTINGS_DEFAULTS: the session cache on
 * SESSION_CACHE_BACKEND if set, else on the shared backend the process was given (`redis` when
 * REDIS_URL is set, else `database` on PostgreSQL, else `memory`), so replicas started with
 * shared services share their sessions with no step by hand. An install that never overrode
 * the backend follows its environment.
 */
export function environmentDefaults(
  config: Pick<AppConfig, 'redisUrl' | 'database' | 'sessionCacheBackend'>,
): JsonObject {
  const backend =
    config.sessionCacheBackend ??
    (config.redisUrl ? 'redis' : config.database.dialect === 'postgres' ? 'database' : 'memory');
  return { sessionCache: { backend } };
}

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

/**
 * `base` (the defaults in force: SETTINGS_DEFAULTS < environmentDefaults) < overrides,
 * validated by the schema classes. Throws 400 naming each bad field.
 */
export function resolveOverrides(
  base: JsonObject,
  overrides: JsonObject,
  fieldPrefix: string,
): RuntimeSettingsValues {
  const errors = validateOverrides(base, overrides);
  if (errors.length > 0) {
    throw validationFailed(
      errors.map((error) => ({ ...error, field: `${fieldPrefix}.${error.field}` })),
    );
  }
  return layer(base, overrides) as unknown as RuntimeSettingsValues;
}

/** What the schema says of base < overrides: every group an object, every leaf its type. */
export function validateOverrides(base: JsonObject, overrides: JsonObject): FieldError[] {
  const instance = plainToInstance(RuntimeSettings, layer(base, overrides));
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
export function usableOverrides(
  base: JsonObject,
  stored: JsonObject,
): {
  overrides: JsonObject;
  invalid: FieldError[];
} {
  let overrides = stored;
  const invalid: FieldError[] = [];
  const note = (field: string, message: string) => {
    if (!invalid.some((seen) => seen.field === field)) invalid.push({ field, message });
  };
  for (let round = 0; round < 10; round++) {
    const errors = validateOverrides(base, overrides);
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

/**
 * Where a setting's value comes from (`GET /api/settings` `sources`, per dotted key):
 * `default` < `environment` < `override`.
 */
export const SETTING_SOURCES = ['default', 'environment', 'override'] as const;
export type SettingSource = (typeof SETTING_SOURCES)[number];

/** Every dotted key of the settings (`session.idleTimeoutSeconds`), in schema order. */
export const SETTING_KEYS: readonly string[] = Object.freeze(leafKeys(SETTINGS_DEFAULTS));

/**
 * Per dotted key: `override` when the (usable) overrides set it, else `environment` when the
 * environment's defaults do, else `default`.
 */
export function sourcesOf(
  environment: JsonObject,
  overrides: JsonObject,
): Record<string, SettingSource> {
  const overridden = new Set(leafKeys(overrides));
  const fromEnvironment = new Set(leafKeys(environment));
  return Object.fromEntries(
    SETTING_KEYS.map((key) => [
      key,
      overridden.has(key) ? 'override' : fromEnvironment.has(key) ? 'environment' : 'default',
    ]),
  );
}

function leafKeys(value: JsonObject, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, child]) =>
    isJsonObject(child) ? leafKeys(child, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}
