import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Base of the providers that see every request the app's HTTP server receives, ahead of
 * Express: per-request bookkeeping (request id and log line, metrics, in-flight tracking) that
 * must cover every request, 404s and probes included, without the cost of an Express or Nest
 * middleware layer. `onRequest` is a `request` listener from the app's start to its shutdown.
 */
export abstract class ServerRequestListener
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private detach: (() => void) | undefined;

  protected constructor(private readonly adapterHost: HttpAdapterHost) {}

  protected abstract onRequest(req: IncomingMessage, res: ServerResponse): void;

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server || this.detach) return;
    const listener = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    server.prependListener('request', listener);
    this.detach = () => server.off('request', listener);
  }

  onApplicationShutdown(): void {
    this.detach?.();
    this.detach = undefined;
  }
}
