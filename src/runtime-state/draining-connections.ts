import {
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ServerResponse } from 'node:http';
import { listenToRequests } from '../http/request-listener.js';
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
export class DrainingConnections implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly inFlight = new Set<ServerResponse>();
  private detach: (() => void) | undefined;

  constructor(
    private readonly runtime: RuntimeStateService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    this.detach ??= listenToRequests(this.adapterHost, (_req, res) => this.track(res));
  }

  onApplicationShutdown(): void {
    this.detach?.();
    this.detach = undefined;
  }

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
    // 'close' comes once per response, after 'finish' or when the connection ended first.
    response.once('close', () => this.inFlight.delete(response));
  }

  /** Called when draining begins, for the responses `track` saw before it. */
  closeAfterResponse(): void {
    for (const response of this.inFlight) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
    }
  }
}
