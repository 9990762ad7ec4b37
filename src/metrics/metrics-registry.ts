import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Registry } from 'prom-client';
import { registerProcessMetrics } from './process-metrics.js';

/**
 * This app's Prometheus registry. Never prom-client's global default registry: tests boot many
 * apps in one process, and each must count only its own requests. Every Keel metric is
 * created with `registers: [metrics.registry]`.
 */
@Injectable()
export class MetricsRegistry implements OnApplicationShutdown {
  readonly registry = new Registry();
  private readonly processMetrics = registerProcessMetrics(this.registry);

  /** The Prometheus text exposition of every metric, collected now. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  onApplicationShutdown(): void {
    this.processMetrics.stop();
  }
}
