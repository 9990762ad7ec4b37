import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApiError, type FieldError } from './api-error.js';
import { ErrorCode } from './error-codes.js';

/** Flattens class-validator's nested errors into dotted field paths (`admin.password`). */
export function toFieldErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const fields: FieldError[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      fields.push({ field, message: message.replace(/^property /, '') });
    }
    if (error.children?.length) fields.push(...toFieldErrors(error.children, field));
  }
  return fields;
}

export function validationFailed(fields: FieldError[]): ApiError {
  const names = [...new Set(fields.map((f) => f.field))].join(', ');
  return new ApiError(400, ErrorCode.ValidationFailed, `Invalid request: check ${names}`, fields);
}

/** Every request body is a DTO: unknown fields are rejected, never silently kept. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => validationFailed(toFieldErrors(errors)),
  });
}
