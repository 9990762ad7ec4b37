import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppConfig } from '../config/app-config.js';
import { ErrorCode } from '../http/error-codes.js';
import { MetricsRegistry } from './metrics-registry.js';

/**
 * `GET /metrics` on its own port when `METRICS_PORT` is set: a bare node:http server with that
 * one route, no session, no token (keep the port off the Service and the ingress; Prometheus
 * scrapes the pod directly). Started with the app, before the main port is bound, so a port
 * already taken stops the boot like a bad variable would; it keeps answering while the main
 * server drains, and closes with the app.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MetricsServer.name);
  private server: Server | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: MetricsRegistry,
  ) {}

  /** Where it listens, or undefined when `METRICS_PORT` is unset. */
  get address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    const port = this.config.metricsPort;
    if (port === undefined || this.server) return;
    const server = createServer((req, res) => this.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.logger.error(`Metrics server error: ${error.message}`));
    this.server = server;
    this.logger.log(`Metrics served on http://${this.config.host}:${port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      return json(res, 404, {
        statusCode: 404,
        code: ErrorCode.NotFound,
        message: `Cannot ${req.method} ${path}`,
      });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return json(res, 405, {
        statusCode: 405,
        code: ErrorCode.MethodNotAllowed,
        message: 'Use GET /metrics',
      });
    }
    this.metrics.scrape().then(
      (body) => {
        res.writeHead(200, {
          'Content-Type': this.metrics.contentType,
          'Cache-Control': 'no-store',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        this.logger.error(
          `Collecting metrics failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        json(res, 500, {
          statusCode: 500,
          code: ErrorCode.InternalError,
          message: 'Collecting metrics failed; the log says why',
        });
      },
    );
  }
}

function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
