import type { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Calls `listener` for every request the app's HTTP server receives, ahead of Express: for
 * per-request bookkeeping (request id and log line, metrics, in-flight tracking) that must
 * see every request, 404s and probes included, at no cost of an Express or Nest middleware
 * layer. Returns the function that detaches it, or undefined when the app has no HTTP server.
 */
export function listenToRequests(
  adapterHost: HttpAdapterHost,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): (() => void) | undefined {
  const server = adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
  if (!server) return undefined;
  server.prependListener('request', listener);
  return () => server.off('request', listener);
}
