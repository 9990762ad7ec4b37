import { ApiProperty, ApiPropertyOptional, getSchemaPath, OmitType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsDefined,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { SignedInResponse } from '../auth/auth.dto.js';
import { SETTINGS_PATCH_SCHEMA } from '../settings/settings.openapi.js';
import { CreateUserDto } from '../users/users.dto.js';

/** The first admin: a user's username, password (the same policy) and optional email; no role. */
export class SetupAdminDto extends OmitType(CreateUserDto, ['role'] as const) {}

export class CompleteSetupDto {
  /**
   * The setup token. Absent or empty is answered like a wrong one (`401 setup_token_invalid`),
   * not as a validation error: the contract treats a missing token as a wrong token.
   */
  // Required in the document (a client must send it); a missing one is still answered 401.
  @ApiProperty({
    type: String,
    maxLength: 512,
    description: 'The setup token from the log (or `SETUP_TOKEN`). Missing counts as wrong.',
  })
  @IsOptional()
  @IsString({ message: 'token must be a string' })
  @MaxLength(512, { message: 'token must be at most 512 characters' })
  token?: string;

  @ApiProperty({ type: () => SetupAdminDto, description: 'The first admin.' })
  @IsDefined({ message: 'admin is required: {"username", "password", "email"?}' })
  @IsObject({ message: 'admin must be an object: {"username", "password", "email"?}' })
  @ValidateNested()
  @Type(() => SetupAdminDto)
  admin!: SetupAdminDto;

  /**
   * Initial runtime settings, a merge patch over the defaults (as `PATCH /api/settings` takes).
   * Only the envelope is checked here; the settings schema checks the values.
   */
  @ApiPropertyOptional({
    allOf: [{ $ref: getSchemaPath(SETTINGS_PATCH_SCHEMA) }],
    description:
      'Initial runtime settings: a JSON merge patch over the defaults, as `PATCH /api/settings` takes.',
    example: { siteName: 'Acme' },
  })
  @IsOptional()
  @IsObject({ message: 'settings must be an object (runtime settings, as in /api/settings)' })
  settings?: Record<string, unknown>;
}

// Response shapes, for the OpenAPI document only.

export class SetupStatusResponse {
  @ApiProperty({ description: 'True until first-run setup is complete.' })
  required!: boolean;

  @ApiPropertyOptional({ format: 'date-time', description: 'When setup was completed.' })
  completedAt?: string;
}

export class InitialSettingsOutcomeResponse {
  @ApiProperty({ description: 'Whether the initial settings are in force.' })
  applied!: boolean;

  @ApiPropertyOptional({
    description:
      'Why not (e.g. the new session backend failed mid-swap): the defaults are in force; change them with `PATCH /api/settings`.',
  })
  error?: string;
}

export class SetupCompletedResponse extends SignedInResponse {
  @ApiPropertyOptional({
    type: () => InitialSettingsOutcomeResponse,
    description:
      'Present when the request had `settings`. Setup completes even when they could not be applied.',
  })
  settings?: InitialSettingsOutcomeResponse;
}
