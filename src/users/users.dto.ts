import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsEmail,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';
import { IsPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password-policy.js';
import { ROLES, type Role } from '../access/role.js';
import { USERNAME_PATTERN } from '../common/username.js';
import { EMAIL_MAX_LENGTH, type PublicUser } from './user.js';

const USERNAME_MESSAGE =
  'username must be 3 to 64 characters of letters, digits, "_", ".", "@" or "-"';
const EMAIL_MESSAGE = `email must be an email address of at most ${EMAIL_MAX_LENGTH} characters, or null`;
const ROLE_MESSAGE = `role must be one of ${ROLES.join(', ')}`;

const USERNAME_DOC = {
  pattern: USERNAME_PATTERN.source,
  description: 'Unique case-insensitively; shown as typed.',
  example: 'alice',
};
const PASSWORD_DOC = {
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  format: 'password',
  description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters (Unicode code points), no other rules.`,
};
const EMAIL_DOC = {
  type: String,
  format: 'email',
  maxLength: EMAIL_MAX_LENGTH,
  nullable: true,
};
const ROLE_DOC = { enum: ROLES, enumName: 'Role' };

export class CreateUserDto {
  @ApiProperty(USERNAME_DOC)
  @IsString({ message: USERNAME_MESSAGE })
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE })
  username!: string;

  @ApiProperty(PASSWORD_DOC)
  @IsPassword()
  password!: string;

  /** Optional; null or absent means none. */
  @ApiPropertyOptional({ ...EMAIL_DOC, description: 'Absent or null: none.' })
  @IsOptional()
  @IsString({ message: EMAIL_MESSAGE })
  @MaxLength(EMAIL_MAX_LENGTH, { message: EMAIL_MESSAGE })
  @IsEmail({}, { message: EMAIL_MESSAGE })
  email?: string | null;

  @ApiProperty(ROLE_DOC)
  @IsIn(ROLES, { message: ROLE_MESSAGE })
  role!: Role;
}

/** Give at least one field; `email: null` removes the email. */
export class UpdateUserDto {
  @ApiPropertyOptional({ ...EMAIL_DOC, description: 'null removes the email.' })
  @IsOptional()
  @IsString({ message: EMAIL_MESSAGE })
  @MaxLength(EMAIL_MAX_LENGTH, { message: EMAIL_MESSAGE })
  @IsEmail({}, { message: EMAIL_MESSAGE })
  email?: string | null;

  // Absent means unchanged; null is not a role, a flag or a password, so it is refused.
  @ApiPropertyOptional({ ...ROLE_DOC, description: 'Demoting a user ends their sessions.' })
  @ValidateIf(isPresent)
  @IsIn(ROLES, { message: ROLE_MESSAGE })
  role?: Role;

  @ApiPropertyOptional({ description: 'true ends the user’s sessions and refuses sign-in.' })
  @ValidateIf(isPresent)
  @IsBoolean({ message: 'disabled must be true or false' })
  disabled?: boolean;

  @ApiPropertyOptional({
    ...PASSWORD_DOC,
    description: `${PASSWORD_DOC.description} Ends the user’s sessions.`,
  })
  @ValidateIf(isPresent)
  @IsPassword()
  password?: string;
}

function isPresent(_dto: object, value: unknown): boolean {
  return value !== undefined;
}

export const UPDATE_USER_FIELDS = ['email', 'role', 'disabled', 'password'] as const;

/** A user as `/api/users` shows one (for the OpenAPI document; the code uses `PublicUser`). */
export class PublicUserResponse implements PublicUser {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'alice' })
  username!: string;

  @ApiProperty({ type: String, format: 'email', nullable: true })
  email!: string | null;

  @ApiProperty(ROLE_DOC)
  role!: Role;

  @ApiProperty()
  disabled!: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}
