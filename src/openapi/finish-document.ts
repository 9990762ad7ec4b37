import type { OpenAPIObject } from '@nestjs/swagger';
import { ErrorCode } from '../http/error-codes.js';
import { ERROR_CODE_DOCS } from './error-responses.js';

/** A node of the document as JSON (OpenAPI 3.1 schemas are JSON Schema). */
type Node = Record<string, unknown>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const ERROR_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * What Nest's scanner leaves loose in the document, made exact for clients and validators:
 * - a single-member `allOf` around a `$ref` (Nest's way to give a reference a description)
 *   becomes the `$ref` itself, with its siblings (OpenAPI 3.1 allows them);
 * - every object schema of the components closes (`additionalProperties: false`): an answer
 *   has no field the document does not name, and a request body may not either (the
 *   ValidationPipe refuses unknown fields);
 * - an operation with no security requirement says so (`security: []`): it is public;
 * - each error response lists only its own codes: a 412 is `version_conflict`, not any of
 *   all the codes, so a generated client narrows `error.code` by status.
 */
export function finishDocument(document: OpenAPIObject): void {
  unwrapSingleAllOf(document as unknown as Node);
  const schemas = (document.components?.schemas ?? {}) as Record<string, Node>;
  for (const schema of Object.values(schemas)) {
    if (schema.properties && schema.additionalProperties === undefined) {
      schema.additionalProperties = false;
    }
  }
  for (const operation of operationsOf(document)) {
    operation.security ??= [];
    for (const [status, response] of Object.entries(
      (operation.responses ?? {}) as Record<string, Node>,
    )) {
      if (Number(status) >= 400) narrowErrorResponse(Number(status), response);
    }
  }
  dropUnusedSchemas(document);
}

function operationsOf(document: OpenAPIObject): Node[] {
  return Object.values(document.paths).flatMap((item) =>
    METHODS.map((method) => (item as Node)[method] as Node | undefined).filter(
      (operation): operation is Node => operation !== undefined,
    ),
  );
}

function unwrapSingleAllOf(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(unwrapSingleAllOf);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const object = node as Node;
  const allOf = object.allOf;
  if (Array.isArray(allOf) && allOf.length === 1 && typeof allOf[0]?.$ref === 'string') {
    delete object.allOf;
    object.$ref = allOf[0].$ref;
  }
  for (const [key, value] of Object.entries(object)) {
    // Examples are data, not schemas.
    if (key !== 'example' && key !== 'examples') unwrapSingleAllOf(value);
  }
}

/**
 * The codes of an error response are the examples ApiErrors gave it (one per code); its
 * schema becomes the error shape with exactly those codes and its own status.
 */
function narrowErrorResponse(status: number, response: Node): void {
  const content = (response.content as Record<string, Node> | undefined)?.['application/json'];
  const examples = content?.examples as Record<string, unknown> | undefined;
  if (!content || !examples) return;
  const codes = Object.keys(examples).filter((code) => ERROR_CODES.has(code));
  if (codes.length === 0) return;
  // Retry-After is promised only where every code of the response carries it (a 429).
  const headers = response.headers as Record<string, Node> | undefined;
  const retryAfter = headers?.['Retry-After'];
  if (retryAfter && codes.every((code) => ERROR_CODE_DOCS[code as ErrorCode].retryAfter)) {
    // Copies: Nest shares one headers object between the responses that were given it.
    response.headers = { ...headers, 'Retry-After': { ...retryAfter, required: true } };
  }
  content.schema = {
    type: 'object',
    description: 'The error shape of every Keel answer (docs/api.md, "Errors").',
    properties: {
      statusCode: { type: 'integer', const: status },
      code: {
        type: 'string',
        enum: codes,
        description: 'Stable and machine-readable: switch on this, not on `message`.',
      },
      message: { type: 'string', description: 'For humans: what went wrong, what to do next.' },
      ...(codes.includes(ErrorCode.ValidationFailed)
        ? {
            fields: {
              type: 'array',
              items: { $ref: '#/components/schemas/FieldError' },
              description: 'With `validation_failed`: each offending field.',
            },
          }
        : {}),
    },
    required: ['statusCode', 'code', 'message'],
    additionalProperties: false,
  };
}

/** Schemas nothing refers to any more (the generic error body, once every response narrowed). */
function dropUnusedSchemas(document: OpenAPIObject): void {
  const schemas = document.components?.schemas;
  if (!schemas) return;
  for (;;) {
    const text = JSON.stringify({
      ...document,
      components: { ...document.components, schemas: {} },
    });
    const schemaText = JSON.stringify(schemas);
    const unused = Object.keys(schemas).filter((name) => {
      const ref = `"#/components/schemas/${name}"`;
      return !text.includes(ref) && !schemaText.includes(ref);
    });
    if (unused.length === 0) return;
    for (const name of unused) delete schemas[name];
  }
}
