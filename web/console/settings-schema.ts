// The settings form is generated from the settings schema in Keel's OpenAPI document (built
// from the same classes that validate a change), so a new setting appears here with its type,
// range and choices, and the console cannot drift from what the server accepts. `npm run build`
// bundles that schema in (web/build.js), from the document the same build serves.
import settingsSchema from 'keel:settings-schema';

type Json = Record<string, unknown>;

export interface SettingField {
  /** Dotted, as `sources` and the history name it: `session.idleTimeoutSeconds`. */
  key: string;
  kind: 'integer' | 'number' | 'string' | 'choice';
  choices?: string[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  default?: unknown;
  description?: string;
}

/** The leaves of `RuntimeSettings`, in the document's order. */
export const SETTING_FIELDS: readonly SettingField[] = leaves(
  settingsSchema.schemas,
  settingsSchema.schemas[settingsSchema.root] ?? {},
  '',
);

function refOf(property: Json): string | undefined {
  const [only] = Array.isArray(property.allOf) ? (property.allOf as Json[]) : [];
  const ref = (property.$ref ?? only?.$ref) as string | undefined;
  return ref?.replace('#/components/schemas/', '');
}

function leaves(schemas: Record<string, Json>, schema: Json, prefix: string): SettingField[] {
  return Object.entries((schema.properties ?? {}) as Record<string, Json>).flatMap(
    ([name, property]) => {
      const key = `${prefix}${name}`;
      const ref = refOf(property);
      const target = ref ? schemas[ref] : undefined;
      if (target?.type === 'object') return leaves(schemas, target, `${key}.`);
      const described = target ?? property;
      const enumValues = (described.enum ?? property.enum) as string[] | undefined;
      const type = described.type as string | undefined;
      return [
        {
          key,
          kind: enumValues
            ? 'choice'
            : type === 'integer'
              ? 'integer'
              : type === 'number'
                ? 'number'
                : 'string',
          choices: enumValues,
          minimum: property.minimum as number | undefined,
          maximum: property.maximum as number | undefined,
          minLength: property.minLength as number | undefined,
          maxLength: property.maxLength as number | undefined,
          default: property.default,
          description: (property.description ?? described.description) as string | undefined,
        },
      ];
    },
  );
}

/** The value at a dotted key of nested settings. */
export function valueAt(values: unknown, key: string): unknown {
  return key
    .split('.')
    .reduce<unknown>(
      (node, part) => (node && typeof node === 'object' ? (node as Json)[part] : undefined),
      values,
    );
}

/** The merge patch (RFC 7396) that sets each dotted key to its value. */
export function mergePatch(changes: Record<string, unknown>): Json {
  const patch: Json = {};
  for (const [key, value] of Object.entries(changes)) {
    const parts = key.split('.');
    let node = patch;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Json;
    node[parts[parts.length - 1]!] = value;
  }
  return patch;
}

/** What a field's text means as a setting's value: numbers for numeric fields. */
export function parseInput(field: SettingField, text: string): unknown {
  if (field.kind === 'integer' || field.kind === 'number') {
    return text.trim() === '' || Number.isNaN(Number(text)) ? text : Number(text);
  }
  return text;
}

/** A short description of a field's range or choices, for its hint. */
export function rangeOf(field: SettingField): string {
  if (field.choices) return `one of ${field.choices.join(', ')}`;
  if (field.minimum !== undefined || field.maximum !== undefined) {
    return `${field.kind === 'integer' ? 'a whole number' : 'a number'} from ${field.minimum ?? '…'} to ${field.maximum ?? '…'}`;
  }
  if (field.minLength !== undefined || field.maxLength !== undefined) {
    return `text of ${field.minLength ?? 0} to ${field.maxLength ?? '…'} characters`;
  }
  return '';
}
