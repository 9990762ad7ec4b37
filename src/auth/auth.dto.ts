import { IsString, MaxLength, MinLength } from 'class-validator';
import { IsPassword } from '../users/password-policy.js';

export class LoginDto {
  @IsString({ message: 'username must be a string' })
  @MinLength(1, { message: 'username is required' })
  @MaxLength(256, { message: 'username must be at most 256 characters' })
  username!: string;

  // No policy here: the policy applies when a password is set, not when it is typed.
  @IsString({ message: 'password must be a string' })
  @MinLength(1, { message: 'password is required' })
  @MaxLength(1024, { message: 'password must be at most 1024 characters' })
  password!: string;
}

export class ChangePasswordDto {
  @IsString({ message: 'currentPassword must be a string' })
  @MinLength(1, { message: 'currentPassword is required' })
  @MaxLength(1024, { message: 'currentPassword must be at most 1024 characters' })
  currentPassword!: string;

  @IsPassword()
  newPassword!: string;
}
