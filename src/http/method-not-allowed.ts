import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from './api-error.js';
import { ErrorCode } from './error-codes.js';

/** What Express's router keeps of a route: its path matcher and the methods it serves. */
interface RouteLayer {
  match(path: string): unknown;
  route?: { methods: Record<string, boolean> };
}

/**
 * `405 method_not_allowed` with `Allow` (RFC 9110) for a path some route serves, called with a
 * method none of them does (`PUT /api/settings`), before the session is read and before any
 * guard: the client learns its mistake, not "setup required" or "sign in". `OPTIONS` on such a
 * path is `204` with the same `Allow`. An unknown path goes on (to its 404).
 *
 * Reads the app's routes at the first request, when every route is registered.
 */
export function methodNotAllowed(app: Application): RequestHandler {
  let routes: RouteLayer[] | undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    routes ??= routesOf(app);
    const allowed = new Set<string>();
    for (const layer of routes) {
      if (!layer.match(req.path)) continue;
      const methods = Object.keys(layer.route!.methods);
      // A route for every method (`app.all`) serves this one too.
      if (methods.includes('_all')) {
        next();
        return;
      }
      for (const method of methods) allowed.add(method.toUpperCase());
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (allowed.size === 0 || allowed.has(method)) {
      next();
      return;
    }
    const allow = [...allowed].sort().join(', ');
    if (req.method === 'OPTIONS') {
      res.setHeader('Allow', allow).status(204).end();
      return;
    }
    const error = new ApiError(
      405,
      ErrorCode.MethodNotAllowed,
      `${req.method} is not allowed on ${req.path}: use ${allow}`,
    );
    res.setHeader('Allow', allow).status(405).json(error.toBody());
  };
}

function routesOf(app: Application): RouteLayer[] {
  const router = (app as unknown as { router?: { stack: RouteLayer[] } }).router;
  return (router?.stack ?? []).filter((layer) => layer.route !== undefined);
}
