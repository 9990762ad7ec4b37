import { Type } from 'class-transformer';
import { IsDefined, IsInt, IsObject, IsOptional, Max, Min } from 'class-validator';

export class PatchSettingsDto {
  /** An RFC 7396 merge patch of the current values: give only what changes; null resets a key. */
  @IsDefined({ message: 'values is required' })
  @IsObject({ message: 'values must be an object (a JSON merge patch of the settings)' })
  values!: Record<string, unknown>;
}

export class SettingsHistoryQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: 'limit must be at least 1' })
  @Max(500, { message: 'limit must be at most 500' })
  limit?: number;
}
