import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { ROLES, type Role } from '../access/role.js';
import type { UserSummary } from '../users/user.js';
import { IsPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../users/password-policy.js';
import type { OwnSession } from './auth-sessions.service.js';

export class LoginDto {
  @ApiProperty({ minLength: 1, maxLength: 256, example: 'alice' })
  @IsString({ message: 'username must be a string' })
  @MinLength(1, { message: 'username is required' })
  @MaxLength(256, { message: 'username must be at most 256 characters' })
  username!: string;

  // No policy here: the policy applies when a password is set, not when it is typed.
  @ApiProperty({ minLength: 1, maxLength: 1024, format: 'password' })
  @IsString({ message: 'password must be a string' })
  @MinLength(1, { message: 'password is required' })
  @MaxLength(1024, { message: 'password must be at most 1024 characters' })
  password!: string;
}

export class ChangePasswordDto {
  @ApiProperty({ minLength: 1, maxLength: 1024, format: 'password' })
  @IsString({ message: 'currentPassword must be a string' })
  @MinLength(1, { message: 'currentPassword is required' })
  @MaxLength(1024, { message: 'currentPassword must be at most 1024 characters' })
  currentPassword!: string;

  @ApiProperty({
    minLength: PASSWORD_MIN_LENGTH,
    maxLength: PASSWORD_MAX_LENGTH,
    format: 'password',
    description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters (Unicode code points), no other rules.`,
  })
  @IsPassword()
  newPassword!: string;
}

// Response shapes, for the OpenAPI document only.

export class CsrfTokenResponse {
  @ApiProperty({ description: 'Send it as `X-CSRF-Token` on unsafe requests.' })
  csrfToken!: string;
}

export class UserSummaryResponse implements UserSummary {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'alice' })
  username!: string;

  @ApiProperty({ type: String, nullable: true, example: 'alice@example.com' })
  email!: string | null;

  @ApiProperty({ enum: ROLES, enumName: 'Role' })
  role!: Role;
}

export class SignedInResponse {
  @ApiProperty({ type: () => UserSummaryResponse })
  user!: UserSummaryResponse;

  @ApiProperty({ description: 'Send it as `X-CSRF-Token` on unsafe requests.' })
  csrfToken!: string;
}

export class MeResponse {
  @ApiProperty({ type: () => UserSummaryResponse })
  user!: UserSummaryResponse;
}

export class OwnSessionResponse implements OwnSession {
  @ApiProperty({
    description: 'An opaque handle for `DELETE /api/auth/sessions/{id}`, never the session id.',
  })
  id!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  createdAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastSeenAt!: string | null;

  @ApiProperty({ type: String, nullable: true })
  userAgent!: string | null;

  @ApiProperty({ type: String, nullable: true })
  ip!: string | null;

  @ApiProperty({ description: 'True for the session this request came with.' })
  current!: boolean;
}
