import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Express } from 'express';
import { IncomingMessage, type Server, ServerResponse } from 'node:http';

/**
 * Makes the HTTP server construct each request and response with Express's prototypes from the
 * start, so that the prototype switch Express makes on every request finds nothing to do.
 *
 * Express's `app.handle` calls `Object.setPrototypeOf(req, app.request)` and the same for
 * `res` on every request: Node built them as plain `IncomingMessage` and `ServerResponse`. On
 * Node 20 those two calls make most of what a request allocated outlive the next
 * young-generation collection: about 4 MB survived each scavenge and was promoted at the next
 * one, to be freed only by a full collection (`--trace-gc-nvp`; a raw node:http server had none,
 * and a bare Express app answering `res.end()` had it all). V8 skips `setPrototypeOf` when the
 * object already has that prototype, so here the server builds them as subclasses whose
 * prototypes are `app.request` and `app.response`: what Express switches to is what they
 * already are. Node 24's V8 does not keep that garbage alive: there the change measured 0.99x,
 * on Node 20 2.2-2.4x. docs/performance.md, "Night (2026-12-01)", has the measurements.
 *
 * Express's `app.request` and `app.response` are replaced by the subclasses' prototypes (same
 * chain, same own properties), not kept as they are: building each object with them through
 * `Reflect.construct(IncomingMessage, args, Target)` would keep them, but V8 builds objects for
 * a foreign `new.target` on a slow path (a bare Express app served 8,542 req/s that way against
 * 47,008 with subclasses). So set anything on `app.request` after this, and mount no sub-app
 * before it: a sub-app mounted earlier still inherits from the object replaced here. Keel mounts
 * none; a mounted sub-app still works, and switches the prototypes of its own requests.
 *
 * Node takes the two classes as `http.createServer` options only, and Nest creates the server
 * before `configureApp` runs, so they are put where the server keeps them: the own properties
 * that hold Node's default classes. Returns false, changing nothing, if the server keeps them
 * elsewhere (a Node release that stores them differently): requests still work as before, only
 * slower; test/http/express-request-classes.int.spec.ts fails on such a release.
 */
export function buildRequestsWithExpressPrototypes(app: NestExpressApplication): boolean {
  const express = app.getHttpAdapter().getInstance() as Express;
  // Node keeps the classes under private symbols: read and written as plain slots.
  const server = app.getHttpServer() as Server & Record<symbol, unknown>;
  const requestSlot = slotHolding(server, IncomingMessage);
  const responseSlot = slotHolding(server, ServerResponse);
  if (requestSlot === undefined || responseSlot === undefined) return false;

  class ExpressRequest extends IncomingMessage {}
  class ExpressResponse extends ServerResponse {}
  adoptPrototype(ExpressRequest.prototype, express.request);
  adoptPrototype(ExpressResponse.prototype, express.response);
  express.request = ExpressRequest.prototype as Express['request'];
  express.response = ExpressResponse.prototype as Express['response'];

  server[requestSlot] = ExpressRequest;
  server[responseSlot] = ExpressResponse;
  return true;
}

/** The own symbol-keyed property of `server` whose value is `value`, if exactly one is. */
function slotHolding(server: Record<symbol, unknown>, value: unknown): symbol | undefined {
  const slots = Object.getOwnPropertySymbols(server).filter((symbol) => server[symbol] === value);
  return slots.length === 1 ? slots[0] : undefined;
}

/**
 * Turns `target` (a subclass's prototype) into a stand-in for Express's per-app `source`: the
 * same prototype chain (Express's request or response methods, then Node's class) and the same
 * own properties (`app`).
 */
function adoptPrototype(target: object, source: object): void {
  Object.setPrototypeOf(target, Object.getPrototypeOf(source));
  Object.defineProperties(target, Object.getOwnPropertyDescriptors(source));
}
