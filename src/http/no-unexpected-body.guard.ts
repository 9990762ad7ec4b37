import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { validationFailed } from './validation.js';
import { requestOf } from './request-of.js';

/**
 * A route that declares no `@Body()` takes no body: anything sent to it is an unknown field and
 * is refused (400), like unknown fields of a DTO, rather than silently ignored.
 */
@Injectable()
export class NoUnexpectedBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const body: unknown = requestOf(context).body;
    if (body === undefined || isEmptyObject(body)) return true;
    const args = (Reflect.getMetadata(
      ROUTE_ARGS_METADATA,
      context.getClass(),
      context.getHandler().name,
    ) ?? {}) as Record<string, unknown>;
    const takesBody = Object.keys(args).some(
      (key) => key.split(':')[0] === String(RouteParamtypes.BODY),
    );
    if (takesBody) return true;
    throw validationFailed([{ field: '(body)', message: 'this route takes no request body' }]);
  }
}

function isEmptyObject(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length === 0
  );
}
