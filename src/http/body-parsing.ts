import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { UNSAFE_METHODS } from '../common/http-methods.js';
import { FORBIDDEN_JSON_KEYS } from '../common/json-keys.js';
import { ApiError } from './api-error.js';
import { ErrorCode } from './error-codes.js';

export const BODY_LIMIT = '100kb';

/** Keys that reach prototypes are refused while parsing, before any code can copy them. */
const FORBIDDEN_KEY_MESSAGE = /^Forbidden key "(.+)"$/;

function refuseForbiddenKeys(key: string, value: unknown): unknown {
  if (FORBIDDEN_JSON_KEYS.has(key)) throw new SyntaxError(`Forbidden key "${key}"`);
  return value;
}

/** Deeper JSON is refused while parsing: no Keel body nests beyond a few levels. */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether the JSON text nests objects and arrays deeper than `max`, by one pass over the bytes
 * (brackets inside strings do not count). Run before parsing: a deep enough document would
 * otherwise exhaust the stack of whatever walks it next (the validator's transformer).
 */
export function nestsDeeperThan(json: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const byte = json[i];
    if (inString) {
      if (byte === 0x5c)
        i++; // a backslash escapes the next byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > max) return true;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return false;
}

const JSON_TYPE = 'application/json';
/** RFC 7396's own media type, for the routes whose body is a merge patch. */
export const MERGE_PATCH_TYPE = 'application/merge-patch+json';

const jsonBodyParser = express.json({
  limit: BODY_LIMIT,
  strict: true,
  // Which of the two is accepted where is decided before the parser runs (jsonBody).
  type: [JSON_TYPE, MERGE_PATCH_TYPE],
  reviver: refuseForbiddenKeys,
  verify: (_req, _res, body) => {
    if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
      throw Object.assign(new Error(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`), {
        type: 'entity.too.deep',
      });
    }
  },
});

export interface JsonBodyOptions {
  /**
   * `PATCH` routes whose body is a JSON merge patch (RFC 7396): they also take
   * `application/merge-patch+json`, parsed the same way. Paths without parameters, matched as
   * the router matches them (routePathKey).
   */
  mergePatchPaths?: readonly string[];
}

/**
 * A path as Express's router tells routes apart by default (neither "case sensitive routing"
 * nor "strict routing"): case-insensitively, and with one trailing slash ignored, so
 * `/API/settings/` reaches the route `/api/settings`. What decides about a route's body must
 * judge the path the way the router that serves it does.
 */
export function routePathKey(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

/**
 * JSON in: a request that carries a body must say it is JSON, and the JSON must parse and fit
 * in 100 kB. Failures become ApiErrors handled by `bodyErrorHandler`, so they have the same
 * shape as every other error. A request with no body at all (most GETs) leaves at once.
 */
export function jsonBody({ mergePatchPaths = [] }: JsonBodyOptions = {}): RequestHandler {
  const mergePatch = new Set(mergePatchPaths.map(routePathKey));
  return (req: Request, res: Response, next: NextFunction) => {
    const { 'transfer-encoding': transferEncoding, 'content-length': contentLength } = req.headers;
    if (transferEncoding === undefined && contentLength === undefined) {
      next();
      return;
    }
    const hasBody = transferEncoding !== undefined || contentLength !== '0';
    const types =
      req.method === 'PATCH' && mergePatch.has(routePathKey(req.path))
        ? [JSON_TYPE, MERGE_PATCH_TYPE]
        : [JSON_TYPE];
    if (UNSAFE_METHODS.has(req.method) && hasBody && !req.is(types)) {
      next(
        new ApiError(
          415,
          ErrorCode.UnsupportedMediaType,
          `Request bodies must be JSON: send Content-Type: ${types.join(' or ')}`,
        ),
      );
      return;
    }
    // Only UTF-8: the depth check reads the raw bytes, and a client has no need of others.
    const charset = CHARSET.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      next(new ApiError(415, ErrorCode.UnsupportedMediaType, 'Request body must be UTF-8 JSON'));
      return;
    }
    jsonBodyParser(req, res, next);
  };
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/** Express error middleware for the body parser's errors (they never reach Nest's filters). */
export function bodyErrorHandler(
  error: unknown,
  _req: Request,
  res: Response,
  next: NextFunction,
): void {
  const apiError = toApiError(error);
  if (!apiError) {
    next(error);
    return;
  }
  res.status(apiError.getStatus()).json(apiError.toBody());
}

function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  const type = (error as { type?: string } | null)?.type;
  switch (type) {
    case 'entity.too.large':
      return new ApiError(
        413,
        ErrorCode.PayloadTooLarge,
        `Request body is larger than ${BODY_LIMIT}`,
      );
    case 'entity.parse.failed': {
      const forbidden = FORBIDDEN_KEY_MESSAGE.exec((error as Error).message);
      if (forbidden) {
        const message = `"${forbidden[1]}" is not an accepted key in a request body`;
        return new ApiError(400, ErrorCode.ValidationFailed, message, [
          { field: forbidden[1], message },
        ]);
      }
      return new ApiError(400, ErrorCode.MalformedJson, 'Request body is not valid JSON');
    }
    case 'entity.too.deep':
      return new ApiError(
        400,
        ErrorCode.MalformedJson,
        `Request body nests deeper than ${MAX_JSON_DEPTH} levels`,
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, ErrorCode.UnsupportedMediaType, 'Request body must be UTF-8 JSON');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new ApiError(400, ErrorCode.MalformedJson, 'Request body could not be read');
    default:
      return undefined;
  }
}
