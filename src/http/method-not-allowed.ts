import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';
import { METHODS } from 'node:http';
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
 * `Allow` lists the methods of the path's routes, as API.md's clients expect (`PUT
 * /api/settings` -> `Allow: GET, PATCH`); `HEAD` (answered by a GET route) and `OPTIONS`
 * (answered here) work too but are not listed, as RFC 9110 permits. Routes for every
 * method (`app.all`, as Nest mounts module middleware for `forRoutes('*')`) are middleware that
 * passes requests on, not a resource's methods: they neither count nor stop the 405.
 *
 * Reads the app's routes at the first request, when every route is registered.
 */
export function methodNotAllowed(app: Application): RequestHandler {
  let routes: RouteLayer[] | undefined;
  // Matching every route against the path took about 12 µs of each request's ~530 µs of CPU
  // (bench/profile.js), for an answer that stays the same for a path once the routes are read.
  // Paths carry ids, so the memo is bounded: a flood of distinct paths empties it, and each
  // costs what it did without one.
  const servedByPath = new Map<string, ReadonlySet<string>>();
  return (req: Request, res: Response, next: NextFunction) => {
    routes ??= routesOf(app);
    const path = req.path;
    let served = servedByPath.get(path);
    if (served === undefined) {
      served = methodsServing(routes, path);
      if (servedByPath.size >= REMEMBERED_PATHS) servedByPath.clear();
      servedByPath.set(path, served);
    }
    if (served.size === 0 || served.has(req.method)) {
      next();
      return;
    }
    if (req.method === 'HEAD' && served.has('GET')) {
      next();
      return;
    }
    const allow = allowHeader(served);
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

const REMEMBERED_PATHS = 1000;

/** The methods (upper case) the routes matching `path` serve: none for an unknown path. */
function methodsServing(routes: readonly RouteLayer[], path: string): ReadonlySet<string> {
  const served = new Set<string>();
  for (const layer of routes) {
    if (!layer.match(path)) continue;
    for (const method of Object.keys(layer.route!.methods)) served.add(method.toUpperCase());
  }
  return served;
}

/** `Allow` for a path whose routes serve `served`. */
function allowHeader(served: ReadonlySet<string>): string {
  return [...served].sort().join(', ');
}

/** The routes that serve particular methods: not those for every method (see above). */
function routesOf(app: Application): RouteLayer[] {
  const router = (app as unknown as { router?: { stack: RouteLayer[] } }).router;
  return (router?.stack ?? []).filter(
    (layer) => layer.route !== undefined && !servesEveryMethod(layer.route.methods),
  );
}

/**
 * `route.all()` marks a route `_all`; Express 5's `app.all()` (which Nest's middleware uses)
 * registers the route under each method Node knows instead.
 */
function servesEveryMethod(methods: Record<string, boolean>): boolean {
  return methods._all === true || METHODS.every((method) => methods[method.toLowerCase()]);
}
