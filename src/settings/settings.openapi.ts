import type { OpenAPIObject } from '@nestjs/swagger';
import { SETTING_SOURCES } from './settings-values.js';

/** A schema of the document as JSON (OpenAPI 3.1: JSON Schema, `type` may be a list). */
type Schema = Record<string, unknown>;

/** The settings as they are (every key present): Nest builds it from RuntimeSettings. */
export const SETTINGS_SCHEMA = 'RuntimeSettings';
/** What `PATCH /api/settings` (and setup's `settings`) take: an RFC 7396 merge patch of it. */
export const SETTINGS_PATCH_SCHEMA = 'RuntimeSettingsPatch';
/** `sources` of `GET /api/settings`: per dotted key, where its value comes from. */
export const SETTINGS_SOURCES_SCHEMA = 'SettingsSources';
const SETTING_SOURCE_SCHEMA = 'SettingSource';

const PATCH_DESCRIPTION =
  'A JSON merge patch (RFC 7396) of the settings: give only the keys that change; `null` resets a key, or a whole group, to its default. Any other key is refused.';

/**
 * Adds the schemas that derive from RuntimeSettings (built from the same classes that validate
 * a change): its merge patch, where every key is optional and may be null and no other key is
 * allowed, and the sources per dotted key. Derived, never written by hand, so the document
 * cannot drift from the validation.
 */
export function describeSettingsSchemas(document: OpenAPIObject): void {
  const schemas = document.components!.schemas as Record<string, Schema>;
  if (!schemas[SETTINGS_SCHEMA]) throw new Error(`${SETTINGS_SCHEMA} is not in the document`);

  const patchOf = (name: string): string => {
    const patchName = name === SETTINGS_SCHEMA ? SETTINGS_PATCH_SCHEMA : `${name}Patch`;
    if (schemas[patchName]) return patchName;
    const properties: Record<string, Schema> = {};
    for (const [key, property] of Object.entries(propertiesOf(schemas[name]!))) {
      const group = groupOf(property, schemas);
      const { default: _default, ...rest } = property;
      properties[key] = group
        ? { anyOf: [{ $ref: schemaPath(patchOf(group)) }, { type: 'null' }] }
        : orNull(rest);
    }
    schemas[patchName] = {
      type: 'object',
      properties,
      additionalProperties: false,
      ...(name === SETTINGS_SCHEMA ? { description: PATCH_DESCRIPTION } : {}),
    };
    return patchName;
  };
  patchOf(SETTINGS_SCHEMA);

  const keys = dottedKeys(SETTINGS_SCHEMA, schemas);
  schemas[SETTING_SOURCE_SCHEMA] = {
    type: 'string',
    enum: [...SETTING_SOURCES],
    description:
      "`default`: Keel's default; `environment`: the default the environment gives (the session cache follows SESSION_CACHE_BACKEND, else REDIS_URL, else DATABASE_URL); `override`: an admin set it. An override wins over the environment, which wins over the default.",
  };
  schemas[SETTINGS_SOURCES_SCHEMA] = {
    type: 'object',
    properties: Object.fromEntries(
      keys.map((key) => [key, { $ref: schemaPath(SETTING_SOURCE_SCHEMA) }]),
    ),
    required: keys,
    additionalProperties: false,
  };
}

function schemaPath(name: string): string {
  return `#/components/schemas/${name}`;
}

function propertiesOf(schema: Schema): Record<string, Schema> {
  return (schema.properties ?? {}) as Record<string, Schema>;
}

/**
 * The component a property refers to when that component is a group (an object); Nest writes
 * a reference as `$ref`, or as `allOf: [{$ref}]` when the property has a description.
 */
function groupOf(property: Schema, schemas: Record<string, Schema>): string | undefined {
  const [only] = Array.isArray(property.allOf) ? (property.allOf as Schema[]) : [];
  const ref = [property.$ref, only?.$ref].find((value) => typeof value === 'string') as
    string | undefined;
  const name = ref?.replace('#/components/schemas/', '');
  return name && schemas[name]?.type === 'object' ? name : undefined;
}

function orNull(schema: Schema): Schema {
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  const { description, ...inner } = schema;
  return { anyOf: [inner, { type: 'null' }], ...(description ? { description } : {}) };
}

function dottedKeys(name: string, schemas: Record<string, Schema>, prefix = ''): string[] {
  return Object.entries(propertiesOf(schemas[name]!)).flatMap(([key, property]) => {
    const group = groupOf(property, schemas);
    return group ? dottedKeys(group, schemas, `${prefix}${key}.`) : [`${prefix}${key}`];
  });
}
