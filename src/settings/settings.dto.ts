import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsInt, IsObject, IsOptional, Max, Min } from 'class-validator';
import type { SettingsHistoryEntry } from './settings.repository.js';
import { SETTINGS_PATCH_SCHEMA, SETTINGS_SOURCES_SCHEMA } from './settings.openapi.js';
import { RuntimeSettings } from './settings.schema.js';
import type { SettingSource } from './settings-values.js';

export class PatchSettingsDto {
  /** An RFC 7396 merge patch of the current values: give only what changes; null resets a key. */
  @ApiProperty({
    allOf: [{ $ref: getSchemaPath(SETTINGS_PATCH_SCHEMA) }],
    description:
      'A JSON merge patch (RFC 7396) of the current values: give only what changes; `null` resets a key to its default.',
    example: { session: { idleTimeoutSeconds: 900 }, siteName: null },
  })
  @IsDefined({ message: 'values is required' })
  @IsObject({ message: 'values must be an object (a JSON merge patch of the settings)' })
  values!: Record<string, unknown>;
}

export class SettingsHistoryQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: 'limit must be at least 1' })
  @Max(500, { message: 'limit must be at most 500' })
  limit?: number;
}

// Response shapes, for the OpenAPI document only.

export class SettingsResponse {
  @ApiProperty({
    type: 'integer',
    description: 'Also the ETag: send it back as `If-Match: "N"` to change.',
  })
  version!: number;

  @ApiProperty({ type: () => RuntimeSettings })
  values!: RuntimeSettings;

  @ApiProperty({
    allOf: [{ $ref: getSchemaPath(SETTINGS_SOURCES_SCHEMA) }],
    description: 'Per dotted key, where its value comes from.',
  })
  sources!: Record<string, SettingSource>;
}

export class SettingsHistoryEntryResponse implements SettingsHistoryEntry {
  @ApiProperty({ type: 'integer' })
  version!: number;

  @ApiProperty({ format: 'date-time' })
  changedAt!: string;

  @ApiProperty({ type: String, nullable: true, description: 'The username; null when unknown.' })
  changedBy!: string | null;

  @ApiProperty({
    type: 'object',
    description: 'Each changed key (dotted) with its value before and after.',
    additionalProperties: {
      type: 'object',
      properties: { from: {}, to: {} },
    },
    example: { 'session.idleTimeoutSeconds': { from: 1800, to: 900 } },
  })
  changes!: Record<string, { from: unknown; to: unknown }>;
}
