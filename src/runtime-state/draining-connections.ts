import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RuntimeStateService } from './runtime-state.service.js';

/**
 * Makes keep-alive connections end cleanly during shutdown: while draining, every response
 * carries `Connection: close`, so the client opens its next connection elsewhere and the
 * server's `close()` is not left waiting on idle keep-alive sockets until their timeout.
 *
 * Responses already in flight when draining begins were past this middleware by then, so it
 * keeps the set of them and `closeAfterResponse()` adds the header to those that have not
 * written their headers yet. (A response already streaming its body can't be changed; its
 * socket is closed as idle when it ends, or at the end of the grace period.)
 */
@Injectable()
export class DrainingConnections {
  private readonly inFlight = new Set<ServerResponse>();

  constructor(private readonly runtime: RuntimeStateService) {}

  /** Requests still being answered. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  track(response: ServerResponse): void {
    if (this.runtime.phase === 'draining') {
      response.setHeader('Connection', 'close');
      return;
    }
    this.inFlight.add(response);
    const done = () => this.inFlight.delete(response);
    response.once('finish', done);
    response.once('close', done);
  }

  /** Called when draining begins, for the responses `track` saw before it. */
  closeAfterResponse(): void {
    for (const response of this.inFlight) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
    }
  }
}

/**
 * The middleware face of `DrainingConnections`. A separate class because Nest builds its own
 * instance of a middleware class; the state must live in the one shared provider.
 */
@Injectable()
export class DrainingConnectionsMiddleware implements NestMiddleware {
  constructor(private readonly connections: DrainingConnections) {}

  use(_request: IncomingMessage, response: ServerResponse, next: () => void): void {
    this.connections.track(response);
    next();
  }
}
