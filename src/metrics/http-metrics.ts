import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram } from 'prom-client';
import { ServerRequestListener } from '../common/server-request-listener.js';
import { MetricsRegistry } from './metrics-registry.js';

/** The route label of a request no route matched (404s, and errors answered before routing). */
export const UNMATCHED_ROUTE = 'unmatched';
/** The status label of a response the client hung up on before it was sent. */
export const ABORTED_STATUS = 'aborted';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

type Labels = 'method' | 'route' | 'status';

/**
 * Request count and duration by route template, method and status.
 *
 * Every label has a bounded set of values, so the series count does not grow with traffic:
 * `route` is the template of the route Express matched (`/api/users/:id`, never the raw path),
 * or `unmatched`; `method` is one of the usual seven or `OTHER`; `status` is the numeric status
 * or `aborted`.
 *
 * Counted from the HTTP server's `request` event, ahead of every middleware, so requests that
 * never reach a controller (a 413 from the body parser, a 503 when the session store is down,
 * a 404) are counted too, with their full duration. The route is read when the response closes,
 * after Express has matched it.
 */
@Injectable()
export class HttpMetrics extends ServerRequestListener {
  private readonly requests: Counter<Labels>;
  private readonly duration: Histogram<Labels>;

  constructor(metrics: MetricsRegistry, adapterHost: HttpAdapterHost) {
    super(adapterHost);
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [metrics.registry],
    });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to the end of its response, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [metrics.registry],
    });
  }

  // A listener ahead of Express: the clock starts before any middleware runs.
  protected onRequest(req: IncomingMessage, res: ServerResponse): void {
    const start = process.hrtime.bigint();
    this.whenClosed(res, () => {
      const labels = {
        method: methodLabel(req.method),
        route: routeLabel(req),
        status: res.writableFinished ? String(res.statusCode) : ABORTED_STATUS,
      };
      this.requests.inc(labels);
      this.duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    });
  }
}

function methodLabel(method: string | undefined): string {
  return method && KNOWN_METHODS.has(method) ? method : 'OTHER';
}

/**
 * The template of the controller route Express matched: Nest registers each handler with its
 * full path (controller prefix included), so `req.route.path` is `/api/auth/sessions/:id`.
 */
export function routeLabel(req: IncomingMessage): string {
  const { route, baseUrl } = req as IncomingMessage & {
    route?: { path?: unknown; methods?: Record<string, boolean | undefined> };
    baseUrl?: unknown;
  };
  if (typeof route?.path !== 'string') return UNMATCHED_ROUTE;
  // Nest registers module middleware (`consumer.apply(...).forRoutes('*')`) as Express routes
  // for every method (as `{/*splat}`), and Express leaves `req.route` at the last
  // route it matched: for a request no controller matched, a middleware's. A controller handler
  // is a route of exactly one method (or `_all` for `@All()`), so only those are templates.
  if (Object.keys(route.methods ?? {}).length !== 1) return UNMATCHED_ROUTE;
  return `${typeof baseUrl === 'string' ? baseUrl : ''}${route.path}` || '/';
}
