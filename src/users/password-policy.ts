import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * The password policy (OWASP ASVS 2.1.1, 2.1.2, 2.1.9): 12 to 256 characters, no composition
 * rules. Characters are Unicode code points, so an emoji counts as one, as a user would count it.
 */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

/** Why `value` is not an acceptable password, or undefined when it is. */
export function passwordPolicyViolation(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  const length = [...value].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    return `must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`;
  }
  return undefined;
}

/** class-validator decorator for a DTO field that sets a password (users, setup, password change). */
export function IsPassword(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPassword',
      validator: {
        validate: (value: unknown) => passwordPolicyViolation(value) === undefined,
        defaultMessage: (args) =>
          `${args?.property ?? 'password'} ${passwordPolicyViolation(args?.value) ?? 'is invalid'}`,
      },
    },
    options,
  );
}
