import type { ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/**
 * The Express request of an HTTP handler's context: its first argument, as Nest passes them.
 *
 * What guards use instead of `context.switchToHttp().getRequest()`. Nest's `switchToHttp()`
 * assigns three new closures (getRequest, getResponse, getNext) onto the context on every call,
 * and three guards call it on each request. In the production bundle each closure also has its
 * name redefined, since keepNames wraps it (deploy/bundle.js). docs/performance.md, "Evening
 * (2026-12-01)", has what that cost.
 */
export function requestOf(context: ExecutionContext): Request {
  return context.getArgByIndex<Request>(0);
}
