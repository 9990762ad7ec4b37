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
import { IsPassword } from './password-policy.js';
import { EMAIL_MAX_LENGTH, type Role, ROLES, USERNAME_PATTERN } from './user.js';

const USERNAME_MESSAGE =
  'username must be 3 to 64 characters of letters, digits, "_", ".", "@" or "-"';
const EMAIL_MESSAGE = `email must be an email address of at most ${EMAIL_MAX_LENGTH} characters, or null`;
const ROLE_MESSAGE = `role must be one of ${ROLES.join(', ')}`;

export class CreateUserDto {
  @IsString({ message: USERNAME_MESSAGE })
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE })
  username!: string;

  @IsPassword()
  password!: string;

  /** Optional; null or absent means none. */
  @IsOptional()
  @IsString({ message: EMAIL_MESSAGE })
  @MaxLength(EMAIL_MAX_LENGTH, { message: EMAIL_MESSAGE })
  @IsEmail({}, { message: EMAIL_MESSAGE })
  email?: string | null;

  @IsIn(ROLES, { message: ROLE_MESSAGE })
  role!: Role;
}

/** Give at least one field; `email: null` removes the email. */
export class UpdateUserDto {
  @IsOptional()
  @IsString({ message: EMAIL_MESSAGE })
  @MaxLength(EMAIL_MAX_LENGTH, { message: EMAIL_MESSAGE })
  @IsEmail({}, { message: EMAIL_MESSAGE })
  email?: string | null;

  // Absent means unchanged; null is not a role, a flag or a password, so it is refused.
  @ValidateIf(isPresent)
  @IsIn(ROLES, { message: ROLE_MESSAGE })
  role?: Role;

  @ValidateIf(isPresent)
  @IsBoolean({ message: 'disabled must be true or false' })
  disabled?: boolean;

  @ValidateIf(isPresent)
  @IsPassword()
  password?: string;
}

function isPresent(_dto: object, value: unknown): boolean {
  return value !== undefined;
}

export const UPDATE_USER_FIELDS = ['email', 'role', 'disabled', 'password'] as const;
