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

  /**
   * Runs `callback` once when `res` closes (sent, or the connection ended first). The
   * listeners of one response share one `close` listener, kept on the response itself:
   * three `once` wrappers per request were a measurable part of `GET /api/auth/me`.
   */
  protected whenClosed(res: ServerResponse, callback: () => void): void {
    const holder = res as ServerResponse & { [CLOSE_CALLBACKS]?: (() => void)[] };
    const callbacks = holder[CLOSE_CALLBACKS];
    if (callbacks) {
      callbacks.push(callback);
      return;
    }
    const list = [callback];
    holder[CLOSE_CALLBACKS] = list;
    res.once('close', () => {
      for (const run of list) run();
    });
  }
}

/** Where a response keeps the callbacks `whenClosed` registered (per response, not global). */
const CLOSE_CALLBACKS = Symbol('keel.closeCallbacks');
