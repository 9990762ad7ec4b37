import {
  type INestApplication,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Server } from 'node:http';
import { constants } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { AppConfig } from '../config/app-config.js';
import { DrainingConnections } from './draining-connections.js';
import { RuntimeStateService } from './runtime-state.service.js';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number] | 'SIGHUP';

/**
 * What closing may take past drain + grace (tasks stopping, database and Redis clients
 * closing) before the process exits regardless.
 */
export const HARD_EXIT_MARGIN_MS = 1000;

/**
 * What happens on SIGTERM (Kubernetes deleting the pod) or SIGINT (Ctrl-C), in order:
 *
 * 1. The phase becomes `draining`: `/health/ready` answers 503 at once, every response carries
 *    `Connection: close`, and the server keeps serving for `SHUTDOWN_DRAIN_MS`, because load
 *    balancers take a few seconds to notice and keep sending traffic meanwhile.
 * 2. The server stops accepting connections and closes idle ones; requests in flight get up to
 *    `SHUTDOWN_GRACE_MS` to finish, then their sockets are destroyed.
 * 3. `app.close()`: supervised tasks stop (their destroy hook), then Nest's shutdown hooks
 *    close the database and Redis clients.
 * 4. The process exits 0 (1 if closing failed).
 *
 * Whatever happens meanwhile, the process is gone drain + grace + HARD_EXIT_MARGIN_MS after the
 * signal: a timer armed at the signal exits 1 then (a hook that never returns, a client that
 * never closes). Log output cannot hold it either (src/logging/stdout-destination.ts). A second
 * signal while this runs exits at once with 128 + its number (an impatient Ctrl-C: 130).
 * SIGHUP means two things. Started from a terminal (stdout a TTY), it is the terminal closing:
 * Keel shuts down as on SIGTERM, so a closed window does not leave a server holding the port.
 * Otherwise it is the habit of asking a daemon to reload: logged and ignored, Keel has nothing
 * to reload (a process manager or a container runtime passing it on must not stop it).
 * main.ts does not call `app.enableShutdownHooks()`: this is the
 * shutdown path, and it ends in `app.close()`.
 */
@Injectable()
export class GracefulShutdown implements OnApplicationShutdown {
  private readonly logger = new Logger(GracefulShutdown.name);
  private readonly handlers = new Map<NodeJS.Signals, () => void>();
  private inProgress = false;

  constructor(
    private readonly config: AppConfig,
    private readonly runtime: RuntimeStateService,
    private readonly connections: DrainingConnections,
  ) {}

  /** Installs the SIGTERM/SIGINT/SIGHUP handlers of the real process (`serve()` calls it). */
  installSignalHandlers(app: INestApplication, interactive = process.stdout.isTTY === true): void {
    for (const signal of SHUTDOWN_SIGNALS) this.handle(signal, () => this.onSignal(app, signal));
    this.handle('SIGHUP', () => {
      if (interactive) this.onSignal(app, 'SIGHUP');
      else
        this.logger.log('SIGHUP ignored: Keel has nothing to reload; SIGTERM or SIGINT stops it');
    });
  }

  /** Drains and closes the app (steps 1-3 above) without exiting; resolves when closed. */
  async drainAndClose(app: INestApplication, reason: string): Promise<void> {
    const drainMs = this.config.shutdownDrainMs;
    const graceMs = this.config.shutdownGraceMs;
    this.runtime.markDraining();
    this.connections.closeAfterResponse();
    this.logger.log(
      `${reason}: draining; readiness fails, serving ${drainMs} ms more, then finishing in-flight requests within ${graceMs} ms`,
    );
    await delay(drainMs);

    const server = app.getHttpServer() as Server;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    this.logger.log(
      `Stopped accepting connections; waiting for ${this.connections.inFlightCount} in-flight request(s)`,
    );
    const graceOver = new AbortController();
    const finishedInTime = await Promise.race([
      closed.then(() => true),
      delay(graceMs, false, { signal: graceOver.signal }).catch(() => false),
    ]);
    graceOver.abort();
    if (!finishedInTime) {
      this.logger.warn(
        `Grace period of ${graceMs} ms over: closing connections with ${this.connections.inFlightCount} request(s) still in flight`,
      );
      server.closeAllConnections();
      await closed;
    }

    // Nest's shutdown: supervised tasks stop first (TaskSupervisor.onModuleDestroy), then the
    // shutdown hooks close the database and Redis clients.
    await app.close();
    this.logger.log('Shutdown complete');
  }

  onApplicationShutdown(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
  }

  private handle(signal: NodeJS.Signals, handler: () => void): void {
    if (this.handlers.has(signal)) return;
    this.handlers.set(signal, handler);
    process.on(signal, handler);
  }

  private onSignal(app: INestApplication, signal: ShutdownSignal): void {
    if (this.inProgress) {
      this.logger.warn(`${signal} again while shutting down: exiting now without finishing`);
      process.exit(128 + constants.signals[signal]);
    }
    this.inProgress = true;
    this.armHardExit(signal);
    this.drainAndClose(app, signal).then(
      () => process.exit(0),
      (error: unknown) => {
        this.logger.error(
          `Shutdown failed: ${error instanceof Error ? error.message : String(error)}`,
          error instanceof Error ? error.stack : undefined,
        );
        process.exit(1);
      },
    );
  }

  /** Unref'd: it must not keep alive a process that has nothing left to do. */
  private armHardExit(signal: ShutdownSignal): void {
    const limitMs = this.config.shutdownDrainMs + this.config.shutdownGraceMs + HARD_EXIT_MARGIN_MS;
    setTimeout(() => {
      this.logger.error(`Shutdown did not finish within ${limitMs} ms of ${signal}: exiting now`);
      process.exit(1);
    }, limitMs).unref();
  }
}
