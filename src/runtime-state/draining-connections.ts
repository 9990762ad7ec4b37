import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerRequestListener } from '../common/server-request-listener.js';
import { RuntimeStateService } from './runtime-state.service.js';

/**
 * Makes keep-alive connections end cleanly during shutdown: while draining, every response
 * carries `Connection: close`, so the client opens its next connection elsewhere and the
 * server's `close()` is not left waiting on idle keep-alive sockets until their timeout.
 *
 * Responses already in flight when draining begins got no such header, so it keeps the set of
 * them and `closeAfterResponse()` adds the header to those that have not
 * written their headers yet. (A response already streaming its body can't be changed; its
 * socket is closed as idle when it ends, or at the end of the grace period.)
 */
@Injectable()
export class DrainingConnections extends ServerRequestListener {
  private readonly inFlight = new Set<ServerResponse>();

  constructor(
    private readonly runtime: RuntimeStateService,
    adapterHost: HttpAdapterHost,
  ) {
    super(adapterHost);
  }

  /** Requests still being answered. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  protected onRequest(_request: IncomingMessage, response: ServerResponse): void {
    if (this.runtime.phase === 'draining') {
      response.setHeader('Connection', 'close');
      return;
    }
    this.inFlight.add(response);
    this.whenClosed(response, () => this.inFlight.delete(response));
  }

  /** Called when draining begins, for the responses seen before it. */
  closeAfterResponse(): void {
    for (const response of this.inFlight) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
    }
  }
}
