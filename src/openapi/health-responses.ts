import { applyDecorators } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, type SchemaObject } from '@nestjs/swagger';

/** Each named check: `{status: "up" | "down", ...details}`. */
const CHECKS: SchemaObject = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down'] } },
    additionalProperties: true,
  },
};

function healthResult(status: string[], example: object): SchemaObject {
  return {
    type: 'object',
    required: ['status', 'info', 'error', 'details'],
    properties: {
      status: { type: 'string', enum: status },
      info: { ...CHECKS, description: 'The checks that passed.' },
      error: { ...CHECKS, description: 'The checks that failed.' },
      details: { ...CHECKS, description: 'Every check.' },
    },
    example,
  };
}

/**
 * A probe's two answers: terminus' `{status, info, error, details}`, with 200 or 503 (never the
 * ErrorBody: the check names are the point). Terminus' own swagger decorators are off
 * (`swaggerDocumentation: false`): whether they load depends on the module loader, and the
 * document must be the same under Jest and in production.
 */
export function ApiHealthResponses(): MethodDecorator {
  return applyDecorators(
    ApiOkResponse({
      description: 'The probe passes.',
      schema: healthResult(['ok'], {
        status: 'ok',
        info: { database: { status: 'up' } },
        error: {},
        details: { database: { status: 'up' } },
      }),
    }),
    ApiServiceUnavailableResponse({
      description: 'The probe fails; `error` names each failing check.',
      schema: healthResult(['error'], {
        status: 'error',
        info: {},
        error: { database: { status: 'down', message: 'timed out after 2000 ms' } },
        details: { database: { status: 'down', message: 'timed out after 2000 ms' } },
      }),
    }),
  );
}
